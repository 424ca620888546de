/**
 * Standard Webhooks signatures: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the
 * secret `whsec_<base64>`. During a rotation's overlap both secrets sign, space-separated,
 * so a receiver that knows either accepts the message.
 */
const encoder = new TextEncoder();

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export function newWebhookSecret(): string {
  return `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(24)))}`;
}

async function signOne(secret: string, content: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    fromBase64(secret.replace(/^whsec_/, "")),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(content)));
  return `v1,${toBase64(mac)}`;
}

export async function signatureHeaders(
  secrets: string[],
  id: string,
  timestampSeconds: number,
  body: string,
) {
  const content = `${id}.${timestampSeconds}.${body}`;
  const signatures = await Promise.all(secrets.map((s) => signOne(s, content)));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": signatures.join(" "),
  };
}
