/**
 * What the server tells identity providers about itself (RFC 7643 §5–7, RFC 7644 §4):
 * PATCH and filters yes (at most 100 results), bulk, sort, ETags and password changes no,
 * bearer tokens. The schemas list only the attributes this server reads or writes.
 */
import { GROUP_SCHEMA, MAX_RESULTS } from "./resources";
import { ENTERPRISE_USER_SCHEMA, USER_SCHEMA } from "./user-model";

const SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

export function serviceProviderConfig(base: string) {
  return {
    schemas: [CONFIG_SCHEMA],
    documentationUri: `${base.replace(/\/scim\/v2$/, "")}/docs`,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "OAuth Bearer Token",
        description: "A SCIM token (scim_…) made with POST /v1/scim-tokens.",
        primary: true,
      },
    ],
    meta: { resourceType: "ServiceProviderConfig", location: `${base}/ServiceProviderConfig` },
  };
}

interface Attr {
  name: string;
  type: "string" | "boolean" | "complex" | "reference";
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: "readOnly" | "readWrite" | "immutable";
  uniqueness?: "none" | "server";
  subAttributes?: Attr[];
  referenceTypes?: string[];
}

const attribute = (a: Attr): Record<string, unknown> => ({
  name: a.name,
  type: a.type,
  multiValued: a.multiValued ?? false,
  description: a.name,
  required: a.required ?? false,
  caseExact: a.caseExact ?? false,
  mutability: a.mutability ?? "readWrite",
  returned: "default",
  uniqueness: a.uniqueness ?? "none",
  ...(a.subAttributes ? { subAttributes: a.subAttributes.map(attribute) } : {}),
  ...(a.referenceTypes ? { referenceTypes: a.referenceTypes } : {}),
});

const SCHEMAS = [
  {
    id: USER_SCHEMA,
    name: "User",
    description: "A user; userName is the email address.",
    attributes: [
      { name: "userName", type: "string", required: true, uniqueness: "server" },
      {
        name: "name",
        type: "complex",
        subAttributes: [
          { name: "givenName", type: "string" },
          { name: "familyName", type: "string" },
          { name: "formatted", type: "string", mutability: "readOnly" },
        ],
      },
      { name: "displayName", type: "string", mutability: "readOnly" },
      {
        name: "emails",
        type: "complex",
        multiValued: true,
        subAttributes: [
          { name: "value", type: "string" },
          { name: "type", type: "string" },
          { name: "primary", type: "boolean" },
        ],
      },
      { name: "active", type: "boolean" },
      { name: "externalId", type: "string", caseExact: true },
      {
        name: "groups",
        type: "complex",
        multiValued: true,
        mutability: "readOnly",
        subAttributes: [
          { name: "value", type: "string", mutability: "readOnly" },
          { name: "display", type: "string", mutability: "readOnly" },
          { name: "$ref", type: "reference", mutability: "readOnly", referenceTypes: ["Group"] },
        ],
      },
    ],
  },
  {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "A group created over SCIM; administrators give it permissions in the API.",
    attributes: [
      { name: "displayName", type: "string", required: true, uniqueness: "server" },
      { name: "externalId", type: "string", caseExact: true },
      {
        name: "members",
        type: "complex",
        multiValued: true,
        subAttributes: [
          { name: "value", type: "string", mutability: "immutable" },
          { name: "display", type: "string", mutability: "readOnly" },
          { name: "$ref", type: "reference", mutability: "immutable", referenceTypes: ["User"] },
        ],
      },
    ],
  },
  {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Accepted on users; none of its attributes is stored.",
    attributes: [],
  },
] satisfies { id: string; name: string; description: string; attributes: Attr[] }[];

export function schemas(base: string) {
  return SCHEMAS.map((s) => ({
    schemas: [SCHEMA_SCHEMA],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: s.attributes.map(attribute),
    meta: { resourceType: "Schema", location: `${base}/Schemas/${s.id}` },
  }));
}

export function resourceTypes(base: string) {
  return [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: "User",
      name: "User",
      endpoint: "/Users",
      description: "The account's users",
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      description: "The groups created over SCIM",
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/Group` },
    },
  ];
}
