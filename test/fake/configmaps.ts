// ConfigMaps (core v1) for the fake apiserver (SIMULATED, test-only): the store, validation,
// optimistic concurrency and managedFields, as the generic registry does it.
//
// Upstream references:
//   - pkg/apis/core/validation/validation.go  ValidateConfigMap (keys, 1 MiB of data + binaryData,
//     "[]: Too long: may not be more than 1048576 bytes"), ValidateObjectMeta (name: DNS subdomain)
//   - apimachinery pkg/util/validation          IsConfigMapKey, IsDNS1123Subdomain, RegexError
//   - apimachinery pkg/api/errors               NewInvalid (causes), NewAlreadyExists, NewConflict
//   - apiserver pkg/registry/generic/registry/store.go  Create / Update (unconditional updates
//     when the body has no resourceVersion: configMapStrategy.AllowUnconditionalUpdate),
//     Delete (preconditions, the "Success" Status with the resource as kind)
//   - apiserver pkg/storage/etcd3/store.go      a write that changes nothing keeps the resourceVersion;
//     "resourceVersion should not be set on objects to be created"
//   - apiserver pkg/endpoints/handlers/rest.go  checkName, EnsureObjectNamespaceMatchesRequestNamespace
//   - structured-merge-diff (fieldmanager)      Update operations: the writer owns the fields it changed

import * as crypto from "node:crypto";
import { goQuote } from "./goparse.ts";

type Obj = Record<string, unknown>;

/** core.MaxSecretSize: data + binaryData of a ConfigMap. */
export const MAX_CONFIGMAP_BYTES = 1024 * 1024;

export interface StatusError {
  code: number;
  /** "" for errors that are not a metav1.Status (reason omitted). */
  reason: string;
  message: string;
  details?: Obj;
}

export type Written = { ok: true; code: number; obj: Obj } | { ok: false; error: StatusError };

export interface ConfigMapStore {
  get(ns: string, name: string): Obj | undefined;
  /** In etcd key order (/registry/configmaps/NS/NAME): one namespace, or all. */
  list(ns?: string): Obj[];
  create(ns: string, body: Obj, manager: string): Written;
  update(ns: string, name: string, body: Obj, manager: string): Written;
  delete(ns: string, name: string, body: Obj): Written;
  /** Test hook: store the object as given (create or replace), with a new resourceVersion. */
  put(ns: string, obj: Obj): Obj;
}

export interface StoreClock {
  /** Bumps the cluster's resourceVersion and returns the new one. */
  bump(): string;
  /** RFC 3339, seconds. */
  now(): string;
  /** NamespaceLifecycle: does the namespace exist? */
  namespaceExists(ns: string): boolean;
}

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const strMap = (v: unknown): Record<string, string> | undefined => {
  if (!isObj(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) out[k] = String(x);
  return out;
};
const sortedKeys = (o: Obj): string[] => Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

// ---- errors ----------------------------------------------------------------------

interface FieldError {
  /** metav1.CauseType */
  reason: "FieldValueTooLong" | "FieldValueRequired" | "FieldValueInvalid";
  field: string;
  /** ErrorBody(): "Too long: ...", "Required value: ...", "Invalid value: \"x\": ..." */
  body: string;
}

function details(name: string, kind: string, extra: Obj = {}): Obj {
  return { ...(name ? { name } : {}), kind, ...extra };
}

/** errors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, name, errs). */
function invalid(name: string, errs: FieldError[]): StatusError {
  // utilerrors.NewAggregate: one error prints alone, several as "[a, b]" (duplicates dropped).
  const msgs = [...new Set(errs.map((e) => `${e.field}: ${e.body}`))];
  const agg = msgs.length === 1 ? (msgs[0] ?? "") : `[${msgs.join(", ")}]`;
  return {
    code: 422,
    reason: "Invalid",
    message: `ConfigMap ${goQuote(name)} is invalid: ${agg}`,
    details: details(name, "ConfigMap", { causes: errs.map((e) => ({ reason: e.reason, message: e.body, field: e.field })) }),
  };
}

export function notFound(resource: string, name: string): StatusError {
  return { code: 404, reason: "NotFound", message: `${resource} ${goQuote(name)} not found`, details: details(name, resource) };
}

function conflict(name: string, why: string): StatusError {
  return { code: 409, reason: "Conflict", message: `Operation cannot be fulfilled on configmaps ${goQuote(name)}: ${why}`, details: details(name, "configmaps") };
}

const badRequest = (message: string): StatusError => ({ code: 400, reason: "BadRequest", message });

const MODIFIED = "the object has been modified; please apply your changes to the latest version and try again";

// ---- validation --------------------------------------------------------------------

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character " +
  "(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const CONFIGMAP_KEY_MSG =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

const invalidValue = (field: string, value: string, detail: string): FieldError => ({
  reason: "FieldValueInvalid",
  field,
  body: `Invalid value: ${goQuote(value)}: ${detail}`,
});

/** validation.IsDNS1123Subdomain */
function nameErrors(name: string): FieldError[] {
  const out: FieldError[] = [];
  if (name.length > 253) out.push(invalidValue("metadata.name", name, "must be no more than 253 characters"));
  if (!DNS1123_SUBDOMAIN.test(name)) out.push(invalidValue("metadata.name", name, DNS1123_SUBDOMAIN_MSG));
  return out;
}

/** validation.IsConfigMapKey, on data[KEY] / binaryData[KEY] (Go walks the maps in random order: sorted here). */
function keyErrors(bag: string, key: string): FieldError[] {
  const field = `${bag}[${key}]`;
  const out: FieldError[] = [];
  if (key.length > 253) out.push(invalidValue(field, key, "must be no more than 253 characters"));
  if (!CONFIGMAP_KEY.test(key)) out.push(invalidValue(field, key, CONFIGMAP_KEY_MSG));
  if (key === ".") out.push(invalidValue(field, key, "must not be '.'"));
  else if (key === "..") out.push(invalidValue(field, key, "must not be '..'"));
  else if (key.startsWith("..")) out.push(invalidValue(field, key, "must not start with '..'"));
  return out;
}

/** Bytes of data (UTF-8) plus binaryData (decoded): what counts against 1 MiB. */
export function configMapBytes(obj: Obj): number {
  let n = 0;
  const data = isObj(obj.data) ? obj.data : {};
  for (const v of Object.values(data)) n += Buffer.byteLength(String(v), "utf8");
  const bin = isObj(obj.binaryData) ? obj.binaryData : {};
  for (const v of Object.values(bin)) n += Buffer.from(String(v), "base64").length;
  return n;
}

/** ValidateConfigMap (object meta: the name only). */
function validate(obj: Obj, name: string, checkName: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (checkName) errs.push(...nameErrors(name));
  const data = isObj(obj.data) ? obj.data : {};
  const bin = isObj(obj.binaryData) ? obj.binaryData : {};
  for (const k of sortedKeys(data)) {
    errs.push(...keyErrors("data", k));
    if (k in bin) errs.push(invalidValue(`data[${k}]`, k, "duplicate of key present in binaryData"));
  }
  for (const k of sortedKeys(bin)) {
    errs.push(...keyErrors("binaryData", k));
    if (k in data) errs.push(invalidValue(`binaryData[${k}]`, k, "duplicate of key present in data"));
  }
  // field.TooLong(field.NewPath(""), cfg, core.MaxSecretSize): the root path prints as "[]".
  if (configMapBytes(obj) > MAX_CONFIGMAP_BYTES)
    errs.push({ reason: "FieldValueTooLong", field: "[]", body: `Too long: may not be more than ${MAX_CONFIGMAP_BYTES} bytes` });
  return errs;
}

// ---- managedFields (Update operations only) ------------------------------------------

/** Leaf field paths ("f:data/f:a", "f:data/." for the map itself) and their values. */
function leaves(obj: Obj): Map<string, string> {
  const out = new Map<string, string>();
  const bag = (prefix: string, m: unknown): void => {
    if (!isObj(m)) return;
    out.set(`${prefix}/.`, "");
    for (const [k, v] of Object.entries(m)) out.set(`${prefix}/f:${k}`, JSON.stringify(v));
  };
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  bag("f:metadata/f:labels", meta.labels);
  bag("f:metadata/f:annotations", meta.annotations);
  bag("f:data", obj.data);
  bag("f:binaryData", obj.binaryData);
  if (obj.immutable !== undefined) out.set("f:immutable", JSON.stringify(obj.immutable));
  return out;
}

/** A set of paths as FieldsV1 (members sorted, "." first). */
function fieldsV1(paths: Iterable<string>): Obj {
  const root: Obj = {};
  for (const p of paths) {
    let node = root;
    for (const seg of p.split("/")) {
      if (!isObj(node[seg])) node[seg] = {};
      node = node[seg] as Obj;
    }
  }
  const sort = (o: Obj): Obj => Object.fromEntries(sortedKeys(o).map((k) => [k, sort(o[k] as Obj)]));
  return sort(root);
}

function pathsOf(f: unknown, prefix = ""): string[] {
  if (!isObj(f)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(f)) {
    const p = prefix ? `${prefix}/${k}` : k;
    if (isObj(v) && Object.keys(v).length > 0) out.push(...pathsOf(v, p));
    else out.push(p);
  }
  return out;
}

/** The writer owns what it changed; the others lose it (fieldmanager, operation Update). */
function updateManagedFields(old: Obj | undefined, next: Obj, manager: string, now: string): Obj[] {
  const before = old ? leaves(old) : new Map<string, string>();
  const after = leaves(next);
  const changed = new Set<string>();
  for (const [p, v] of after) if (before.get(p) !== v) changed.add(p);
  const removed = new Set<string>([...before.keys()].filter((p) => !after.has(p)));
  const entries = (old && Array.isArray((old.metadata as Obj).managedFields) ? ((old.metadata as Obj).managedFields as Obj[]) : []).map((e) => ({ ...e }));
  const out: Obj[] = [];
  let mine: Obj | undefined;
  for (const e of entries) {
    const own = new Set(pathsOf(e.fieldsV1).filter((p) => !removed.has(p)));
    if ((e.manager ?? "") === manager && e.operation === "Update") {
      for (const p of changed) own.add(p);
      mine = e;
      if (changed.size > 0 || removed.size > 0) e.time = now;
    } else for (const p of changed) own.delete(p);
    if (own.size === 0) continue;
    e.fieldsV1 = fieldsV1(own);
    out.push(e);
  }
  if (!mine && changed.size > 0) {
    out.push({ ...(manager ? { manager } : {}), operation: "Update", apiVersion: "v1", time: now, fieldsType: "FieldsV1", fieldsV1: fieldsV1(changed) });
  }
  return out;
}

// ---- the object as stored ------------------------------------------------------------

/** ObjectMeta then ConfigMap fields in Go struct order. */
function shape(meta: Obj, src: Obj): Obj {
  const m: Obj = {};
  for (const k of ["name", "generateName", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels", "annotations", "ownerReferences", "finalizers", "managedFields"]) {
    if (meta[k] !== undefined && meta[k] !== "") m[k] = meta[k];
  }
  const o: Obj = { kind: "ConfigMap", apiVersion: "v1", metadata: m };
  if (src.immutable !== undefined && src.immutable !== null) o.immutable = !!src.immutable;
  const data = strMap(src.data);
  if (data && Object.keys(data).length) o.data = data;
  const bin = strMap(src.binaryData);
  if (bin && Object.keys(bin).length) o.binaryData = bin;
  return o;
}

/** The parts of the metadata a client writes. */
function clientMeta(body: Obj): Obj {
  const m = isObj(body.metadata) ? body.metadata : {};
  const out: Obj = {};
  const labels = strMap(m.labels);
  if (labels && Object.keys(labels).length) out.labels = labels;
  const annotations = strMap(m.annotations);
  if (annotations && Object.keys(annotations).length) out.annotations = annotations;
  if (Array.isArray(m.ownerReferences) && m.ownerReferences.length) out.ownerReferences = m.ownerReferences;
  if (Array.isArray(m.finalizers) && m.finalizers.length) out.finalizers = m.finalizers;
  return out;
}

/** The content a write compares (a write that changes nothing is not written). */
const content = (o: Obj): string => {
  const m = (o.metadata ?? {}) as Obj;
  return JSON.stringify([m.labels, m.annotations, m.ownerReferences, m.finalizers, o.immutable, o.data, o.binaryData]);
};

const clone = <T>(o: T): T => structuredClone(o);

export function newConfigMapStore(clock: StoreClock): ConfigMapStore {
  const items = new Map<string, Obj>(); // "ns/name" -> stored object

  const keyOf = (ns: string, name: string): string => `${ns}/${name}`;

  function create(ns: string, body: Obj, manager: string): Written {
    const meta = isObj(body.metadata) ? body.metadata : {};
    // rest.EnsureObjectNamespaceMatchesRequestNamespace
    if (typeof meta.namespace === "string" && meta.namespace !== "" && meta.namespace !== ns)
      return { ok: false, error: badRequest("the namespace of the provided object does not match the namespace sent on the request") };
    let name = typeof meta.name === "string" ? meta.name : "";
    const generateName = typeof meta.generateName === "string" ? meta.generateName : "";
    if (!name && generateName) {
      // names.SimpleNameGenerator: 5 characters of utilrand's alphabet
      const alphabet = "bcdfghjklmnpqrstvwxz2456789";
      name = generateName.slice(0, 58) + Array.from(crypto.randomBytes(5), (b) => alphabet[b % alphabet.length]).join("");
    }
    // rest.BeforeCreate: strategy validation
    const errs: FieldError[] = [];
    if (!name) errs.push({ reason: "FieldValueRequired", field: "metadata.name", body: "Required value: name or generateName is required" });
    errs.push(...validate(body, name, !!name));
    if (errs.length) return { ok: false, error: invalid(name, errs) };
    // admission (NamespaceLifecycle), then the storage
    if (!clock.namespaceExists(ns)) return { ok: false, error: notFound("namespaces", ns) };
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== "" && meta.resourceVersion !== "0")
      return { ok: false, error: { code: 500, reason: "", message: "resourceVersion should not be set on objects to be created" } };
    if (items.has(keyOf(ns, name)))
      return { ok: false, error: { code: 409, reason: "AlreadyExists", message: `configmaps ${goQuote(name)} already exists`, details: details(name, "configmaps") } };
    const now = clock.now();
    const stored = shape(
      { name, generateName, namespace: ns, uid: crypto.randomUUID(), resourceVersion: "", creationTimestamp: now, ...clientMeta(body) },
      body,
    );
    (stored.metadata as Obj).managedFields = updateManagedFields(undefined, stored, manager, now);
    (stored.metadata as Obj).resourceVersion = clock.bump();
    items.set(keyOf(ns, name), shape(stored.metadata as Obj, stored));
    return { ok: true, code: 201, obj: clone(items.get(keyOf(ns, name)) as Obj) };
  }

  function update(ns: string, name: string, body: Obj, manager: string): Written {
    const meta = isObj(body.metadata) ? body.metadata : {};
    // handlers checkName, then the namespace
    const objName = typeof meta.name === "string" ? meta.name : "";
    if (objName !== name) return { ok: false, error: badRequest(`the name of the object (${objName}) does not match the name on the URL (${name})`) };
    if (typeof meta.namespace === "string" && meta.namespace !== "" && meta.namespace !== ns)
      return { ok: false, error: badRequest("the namespace of the provided object does not match the namespace sent on the request") };
    const old = items.get(keyOf(ns, name));
    if (!old) return { ok: false, error: notFound("configmaps", name) };
    const oldMeta = old.metadata as Obj;
    const rv = meta.resourceVersion;
    // AllowUnconditionalUpdate: no resourceVersion in the body is a blind write.
    if (rv !== undefined && rv !== "" && String(rv) !== oldMeta.resourceVersion) return { ok: false, error: conflict(name, MODIFIED) };
    if (typeof meta.uid === "string" && meta.uid !== "" && meta.uid !== oldMeta.uid)
      return { ok: false, error: conflict(name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${String(oldMeta.uid)}`) };
    const errs = validate(body, name, false);
    if (errs.length) return { ok: false, error: invalid(name, errs) };
    const next = shape({ ...oldMeta, labels: undefined, annotations: undefined, ownerReferences: undefined, finalizers: undefined, ...clientMeta(body) }, body);
    // etcd3 GuaranteedUpdate: the same bytes are not written (no new resourceVersion).
    if (content(next) === content(old)) return { ok: true, code: 200, obj: clone(old) };
    const m = next.metadata as Obj;
    m.managedFields = updateManagedFields(old, next, manager, clock.now());
    m.resourceVersion = clock.bump();
    items.set(keyOf(ns, name), shape(m, next));
    return { ok: true, code: 200, obj: clone(items.get(keyOf(ns, name)) as Obj) };
  }

  function del(ns: string, name: string, body: Obj): Written {
    const old = items.get(keyOf(ns, name));
    if (!old) return { ok: false, error: notFound("configmaps", name) };
    const m = old.metadata as Obj;
    const pre = isObj(body.preconditions) ? body.preconditions : {};
    // storage.Preconditions.Check, interpreted as a Conflict
    if (typeof pre.uid === "string" && pre.uid !== m.uid)
      return { ok: false, error: conflict(name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(m.uid)}`) };
    if (typeof pre.resourceVersion === "string" && pre.resourceVersion !== m.resourceVersion)
      return { ok: false, error: conflict(name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(m.resourceVersion)}`) };
    items.delete(keyOf(ns, name));
    clock.bump();
    // Store.finalizeDelete: a Success Status whose kind is the resource, no code.
    return { ok: true, code: 200, obj: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, kind: "configmaps", uid: m.uid } } };
  }

  function put(ns: string, obj: Obj): Obj {
    const meta = isObj(obj.metadata) ? obj.metadata : {};
    const name = typeof meta.name === "string" ? meta.name : "";
    if (!name) throw new Error("fake cluster: putConfigMap needs metadata.name");
    const old = items.get(keyOf(ns, name));
    const oldMeta = (old?.metadata ?? {}) as Obj;
    const stored = shape(
      {
        ...meta,
        name,
        namespace: ns,
        uid: oldMeta.uid ?? (typeof meta.uid === "string" && meta.uid ? meta.uid : crypto.randomUUID()),
        creationTimestamp: oldMeta.creationTimestamp ?? (typeof meta.creationTimestamp === "string" ? meta.creationTimestamp : clock.now()),
        resourceVersion: clock.bump(),
      },
      obj,
    );
    items.set(keyOf(ns, name), stored);
    return clone(stored);
  }

  return {
    get: (ns, name) => {
      const o = items.get(keyOf(ns, name));
      return o ? clone(o) : undefined;
    },
    list: (ns) => {
      const keys = [...items.keys()].filter((k) => ns === undefined || k.startsWith(ns + "/")).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return keys.map((k) => items.get(k) as Obj);
    },
    create,
    update,
    delete: del,
    put,
  };
}
