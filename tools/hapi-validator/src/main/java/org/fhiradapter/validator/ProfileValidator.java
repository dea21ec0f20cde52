package org.fhiradapter.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.parser.LenientErrorHandler;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ValidationOptions;
import ca.uhn.fhir.validation.ValidationResult;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.UnknownCodeSystemWarningValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r5.utils.validation.constants.BestPracticeWarningLevel;

/**
 * HAPI's FhirInstanceValidator over FHIR packages read from local .tgz files, with the R4 core
 * definitions from hapi-fhir-validation-resources-r4. Nothing is fetched over the network.
 */
final class ProfileValidator {

  private final FhirContext context = FhirContext.forR4();
  private final IParser parser = context.newJsonParser();
  private final FhirValidator validator;
  private final OfflineGaps gaps;
  private final List<String> packages = new ArrayList<>();

  ProfileValidator(List<Path> packageFiles) throws IOException {
    parser.setParserErrorHandler(new LenientErrorHandler(false));
    List<IValidationSupport> supports = new ArrayList<>();
    for (Path file : packageFiles) {
      PackageSupport support = new PackageSupport(context, file);
      packages.add(support.label());
      supports.add(support);
    }
    // The R4 core (StructureDefinitions, ValueSets, CodeSystems) from the validation-resources jar.
    supports.add(new DefaultProfileValidationSupport(context));
    // UCUM, BCP-47 languages, MIME types, ISO currencies and countries: checked without a server.
    supports.add(new CommonCodeSystemsTerminologyService(context));
    // Value sets expanded in memory from what is loaded (enumerated codes, complete code systems).
    supports.add(new InMemoryTerminologyServerValidationSupport(context));
    supports.add(new SnapshotGeneratingValidationSupport(context));
    // A code from a code system whose content is not loaded (SNOMED CT, LOINC, ICD-10-CM,
    // RxNorm, ...) cannot be looked up: the validator says so with a warning.
    UnknownCodeSystemWarningValidationSupport unknown =
        new UnknownCodeSystemWarningValidationSupport(context);
    unknown.setNonExistentCodeSystemSeverity(IValidationSupport.IssueSeverity.WARNING);
    supports.add(unknown);

    ValidationSupportChain chain = new ValidationSupportChain(supports);
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    // A profile claimed in meta.profile that is not loaded is an error: the claim cannot be checked.
    module.setErrorForUnknownProfiles(true);
    // References such as Patient/123 outside a Bundle (NDJSON lines) are taken at their word.
    module.setAssumeValidRestReferences(true);
    // "Should have narrative", "should have a performer": advice, not conformance.
    module.setBestPracticeWarningLevel(BestPracticeWarningLevel.Hint);
    validator = context.newValidator().registerValidatorModule(module);
    gaps = new OfflineGaps(chain);
  }

  List<String> packages() {
    return packages;
  }

  /** Validates one resource (a Bundle: with its entries) given as JSON text. */
  List<Issue> validate(String json) {
    Map<String, List<Issue>> checked = new HashMap<>();
    Map<String, String> entries = new HashMap<>();
    return gaps.apply(
        issues(validator.validateWithResult(json)),
        (target, profile) ->
            checked.computeIfAbsent(
                target + " " + profile, k -> targetErrors(json, entries, target, profile)));
  }

  /** The errors a Bundle entry has against a profile, after the offline rules; null if absent. */
  private List<Issue> targetErrors(
      String bundleJson, Map<String, String> entries, String fullUrl, String profile) {
    if (entries.isEmpty()) {
      try {
        IBaseResource parsed = parser.parseResource(bundleJson);
        if (parsed instanceof Bundle bundle) {
          for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
            if (entry.hasFullUrl() && entry.hasResource()) {
              entries.put(entry.getFullUrl(), parser.encodeResourceToString(entry.getResource()));
            }
          }
        }
      } catch (DataFormatException e) {
        return null;
      }
    }
    String target = entries.get(fullUrl);
    if (target == null) {
      return null;
    }
    ValidationOptions options = new ValidationOptions().addProfile(profile);
    List<Issue> errors = new ArrayList<>();
    for (Issue issue : gaps.apply(issues(validator.validateWithResult(target, options)), (t, p) -> null)) {
      if (issue.isError()) {
        errors.add(issue);
      }
    }
    return errors;
  }

  private static List<Issue> issues(ValidationResult result) {
    return result.getMessages().stream().map(Issue::of).toList();
  }
}
