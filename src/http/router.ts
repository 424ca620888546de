/** Every sub-app is made here, so all share one validation hook and one error shape. */
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { AppError, type FieldError } from "../lib/errors";

function toFieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    const path = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: path ? `${path}.${key}` : key,
        code: "unknown_field",
        message: `Unknown field "${key}".`,
      }));
    }
    return [{ path, code: issue.code, message: issue.message }];
  });
}

export function validationError(error: z.ZodError, where?: string): AppError {
  const errors = toFieldErrors(error);
  const first = errors[0];
  const detail = first
    ? `${first.path || where || "body"}: ${first.message}`
    : "Request failed validation.";
  return new AppError("validation_failed", detail, { errors });
}

export const validationHook = (result: {
  success: boolean;
  error?: z.ZodError;
  target: string;
}) => {
  if (!result.success) throw validationError(result.error!, result.target);
};

export function createRouter() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}
