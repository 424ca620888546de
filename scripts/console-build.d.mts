export declare const consoleDir: string;
export declare function ensureConsoleDir(): void;
export declare function consoleBuilt(): boolean;
export declare function buildConsole(): void;
