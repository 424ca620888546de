export declare const devVarsExample: string;
export declare function readDevVars(file?: string): Record<string, string>;
