// Self-test: hand-built valid mCODE resources pass, broken ones fail with the expected message.
// Run: node --test tools/mcode-validate/test/   (after npm install --prefix tools/mcode-validate)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const VALIDATE = join(dirname(fileURLToPath(import.meta.url)), '..', 'validate.mjs');
const M = 'http://hl7.org/fhir/us/mcode/StructureDefinition/';
const SCT = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const P = 'urn:uuid:11111111-1111-4111-8111-111111111111';
const C1 = 'urn:uuid:22222222-2222-4222-8222-222222222222';
const cc = (system, code) => ({ coding: [{ system, code }] });
const clone = (x) => structuredClone(x);

const patient = {
  resourceType: 'Patient', id: 'p1', meta: { profile: [M + 'mcode-cancer-patient'] },
  identifier: [{ system: 'urn:oid:1.2.3.4', value: 'case-001' }],
  name: [{ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' }] }],
  gender: 'female',
};
const laterality = { url: M + 'mcode-laterality-qualifier', valueCodeableConcept: cc(SCT, '7771000') };
const conditionCommon = {
  clinicalStatus: cc('http://terminology.hl7.org/CodeSystem/condition-clinical', 'active'),
  verificationStatus: cc('http://terminology.hl7.org/CodeSystem/condition-ver-status', 'confirmed'),
  category: [cc('http://terminology.hl7.org/CodeSystem/condition-category', 'problem-list-item')],
  subject: { reference: P },
};
const primary = {
  resourceType: 'Condition', id: 'c1', meta: { profile: [M + 'mcode-primary-cancer-condition'] }, ...conditionCommon,
  code: cc(SCT, '254637007'),
  bodySite: [{ coding: [{ system: SCT, code: '39607008' }], extension: [laterality] }],
};
const secondary = {
  resourceType: 'Condition', id: 'c2', meta: { profile: [M + 'mcode-secondary-cancer-condition'] }, ...conditionCommon,
  extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/condition-related', valueReference: { reference: C1 } }],
  code: cc(SCT, '94225005'),
};
const surgery = {
  resourceType: 'Procedure', id: 'pr1', meta: { profile: [M + 'mcode-cancer-related-surgical-procedure'] },
  status: 'completed', code: cc(SCT, '173171007'), subject: { reference: P }, performedDateTime: '2019-04-02',
  reasonReference: [{ reference: C1 }],
};
const tumorMarker = {
  resourceType: 'Observation', id: 'o1', meta: { profile: [M + 'mcode-tumor-marker-test'] }, status: 'final',
  category: [cc('http://terminology.hl7.org/CodeSystem/observation-category', 'laboratory')],
  code: cc(LOINC, '2857-1'), subject: { reference: P }, effectiveDateTime: '2019-03-01',
  valueQuantity: { value: 4.2, unit: 'ng/mL', system: 'http://unitsofmeasure.org', code: 'ng/mL' },
};
const diseaseStatus = {
  resourceType: 'Observation', id: 'o2', meta: { profile: [M + 'mcode-cancer-disease-status'] }, status: 'final',
  code: cc(LOINC, '97509-4'), subject: { reference: P }, focus: [{ reference: C1 }], effectiveDateTime: '2019-06-01',
  valueCodeableConcept: cc(SCT, '268910001'),
};
const all = [patient, primary, secondary, surgery, tumorMarker, diseaseStatus];
const uuids = [P, C1, ...[3, 4, 5, 6].map((i) => `urn:uuid:0000000${i}-0000-4000-8000-00000000000${i}`)];
const bundle = (resources) => ({
  resourceType: 'Bundle', type: 'transaction',
  entry: resources.map((r, i) => ({ fullUrl: uuids[i], resource: clone(r), request: { method: 'POST', url: r.resourceType } })),
});
const broken = (base, fn) => {
  const r = clone(base);
  fn(r);
  return r;
};

const dir = mkdtempSync(join(tmpdir(), 'mcode-validate-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// Write every case to its own file and validate them all in one run (definitions load once).
const files = new Map(); // name -> file
const write = (name, resource) => {
  const file = join(dir, `r${files.size}.json`);
  writeFileSync(file, JSON.stringify(resource));
  files.set(name, file);
};
write('valid bundle', bundle(all));
all.forEach((r) => write(`valid ${r.id}`, r));

const cases = [
  ['patient without gender', broken(patient, (r) => delete r.gender), /Patient\.gender/, /Missing required property/],
  ['patient without name', broken(patient, (r) => delete r.name), /Patient\.name/, /Missing required property/],
  ['name with data-absent-reason and family', broken(patient, (r) => (r.name[0].family = 'Doe')), /Patient\.name/, /us-core-6/],
  ['condition without category', broken(primary, (r) => delete r.category), /Condition\.category/, /Missing required property/],
  ['two laterality extensions', broken(primary, (r) => r.bodySite[0].extension.push(clone(laterality))), /bodySite/, /lateralityQualifier.*0\.\.1/],
  ['laterality valueString', broken(primary, (r) => (r.bodySite[0].extension[0] = { url: laterality.url, valueString: 'left' })), /valueString/, /not allowed/],
  ['condition-related valueString', broken(secondary, (r) => (r.extension[0] = { url: r.extension[0].url, valueString: 'c1' })), /valueString/, /not allowed/],
  ['unknown element', broken(primary, (r) => (r.cancerStage = 'IIIA')), /cancerStage/, /Invalid additional property/],
  ['completed procedure without performed', broken(surgery, (r) => delete r.performedDateTime), /Procedure/, /us-core-7/],
  ['status code not in required value set', broken(surgery, (r) => (r.status = 'done')), /Procedure\.status/, /required value set/],
  ['tumor marker effectiveDateTime "2019"', broken(tumorMarker, (r) => (r.effectiveDateTime = '2019')), /effective/, /us-core-1/],
  ['tumor marker without laboratory category', broken(tumorMarker, (r) => (r.category = [cc('http://terminology.hl7.org/CodeSystem/observation-category', 'vital-signs')])), /category/, /slice 'us-core'/],
  ['disease status with the wrong code', broken(diseaseStatus, (r) => (r.code = cc(LOINC, '12345-6'))), /Observation\.code/, /pattern/],
  ['bad dateTime', broken(diseaseStatus, (r) => (r.effectiveDateTime = '2019-13-01')), /effective/, /Invalid dateTime/],
  ['unknown profile', broken(patient, (r) => r.meta.profile.push(M + 'mcode-no-such-profile')), /meta\.profile/, /Unknown profile/],
  ['mcode-patient-bundle with type transaction (fixed value)', { ...bundle([patient]), meta: { profile: [M + 'mcode-patient-bundle'] } }, /Bundle\.type/, /pattern/],
  ['dangling urn:uuid reference', bundle([patient, broken(primary, (r) => (r.subject.reference = 'urn:uuid:99999999-9999-4999-8999-999999999999'))]), /subject/, /does not resolve/],
  ['urn:uuid subject resolving to an Observation', bundle([patient, broken(primary, (r) => (r.subject.reference = uuids[2])), tumorMarker]), /subject/, /Invalid reference: got "Observation"/],
];
for (const [name, resource] of cases) write(name, resource);

const res = spawnSync(process.execPath, [VALIDATE, ...files.values()], { encoding: 'utf8' });
const out = JSON.parse(res.stdout);
const errorsOf = (name) => out.errors.filter((e) => e.file === files.get(name));

test('one run over all files reports errors (exit 1)', () => {
  assert.equal(res.status, 1);
  assert.equal(out.files, files.size);
});

test('valid resources and a transaction Bundle with urn:uuid references pass', () => {
  for (const name of files.keys()) {
    if (name.startsWith('valid ')) assert.deepEqual(errorsOf(name), [], name);
  }
});

for (const [name, , path, message] of cases) {
  test(`catches: ${name}`, () => {
    const errors = errorsOf(name);
    assert.ok(
      errors.some((e) => path.test(e.path ?? '') && message.test(e.message)),
      `no error matching ${path} / ${message}: ${JSON.stringify(errors, null, 1)}`
    );
  });
}

test('a valid file alone exits 0', () => {
  assert.equal(spawnSync(process.execPath, [VALIDATE, files.get('valid bundle')], { encoding: 'utf8' }).status, 0);
});

test('usage errors exit 2', () => {
  assert.equal(spawnSync(process.execPath, [VALIDATE], { encoding: 'utf8' }).status, 2);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{');
  assert.equal(spawnSync(process.execPath, [VALIDATE, bad], { encoding: 'utf8' }).status, 2);
});
