/**
 * One Durable Object per account (DESIGN.md, "Capacity"). It will serialize every seat- or
 * device-consuming write; until then the conditional SQL in each insert holds the limit.
 */
import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../context";

export class AccountCapacity extends DurableObject<Bindings> {}
