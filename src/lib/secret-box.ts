/**
 * Secrets the service must read back later (an SSO client secret), kept at rest with
 * AES-GCM under a key derived from ENCRYPTION_KEY. The ciphertext is bound to a context
 * (the account id) as additional data, so a row copied to another account does not decrypt.
 */
import { base64url } from "./crypto";

const encoder = new TextEncoder();
const VERSION = "v1";

const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(material: string): Promise<CryptoKey> {
  let key = keys.get(material);
  if (!key) {
    key = crypto.subtle
      .digest("SHA-256", encoder.encode(material))
      .then((raw) => crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]));
    keys.set(material, key);
  }
  return key;
}

function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export async function seal(material: string, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    await keyFor(material),
    encoder.encode(plaintext),
  );
  return `${VERSION}.${base64url(iv)}.${base64url(new Uint8Array(sealed))}`;
}

export async function open(material: string, context: string, sealed: string): Promise<string> {
  const [version, iv, data] = sealed.split(".");
  if (version !== VERSION || !iv || !data) throw new Error("unknown sealed format");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64url(iv), additionalData: encoder.encode(context) },
    await keyFor(material),
    fromBase64url(data),
  );
  return new TextDecoder().decode(plain);
}
