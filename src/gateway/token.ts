/**
 * The token that guards the gateway's writes: PKG_GATEWAY_TOKEN when set, else one made once (32 random bytes) and
 * kept in `<data dir>/gateway/token`, readable by its owner only, so npm's .npmrc can name it across restarts.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../files/atomic";

export async function gatewayToken(dataDir: string, fromEnvironment?: string): Promise<{ value: string; file: string | null }> {
  if (fromEnvironment !== undefined && fromEnvironment !== "") return { value: fromEnvironment, file: null };
  const file = path.join(dataDir, "gateway", "token");
  const existing = await readFile(file, "utf8").catch(() => null);
  if (existing !== null && /^[A-Za-z0-9_-]{32,}$/.test(existing.trim())) return { value: existing.trim(), file };
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = randomBytes(32).toString("base64url");
  await writeFileAtomic(file, `${value}\n`);
  await chmod(file, 0o600);
  return { value, file };
}
