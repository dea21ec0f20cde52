package org.fhiradapter.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ValidationOptions;
import ca.uhn.fhir.validation.ValidationResult;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.UnknownCodeSystemWarningValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.r5.utils.validation.constants.BestPracticeWarningLevel;
import org.hl7.fhir.utilities.json.model.JsonObject;
import org.hl7.fhir.utilities.json.parser.JsonParser;

/**
 * HAPI's FhirInstanceValidator over FHIR packages read from local .tgz files, with the R4 core
 * definitions from hapi-fhir-validation-resources-r4. Nothing is fetched over the network.
 */
final class ProfileValidator {

  private static final Pattern ENTRY = Pattern.compile("Bundle\\.entry\\[(\\d+)\\]\\.resource");

  private final FhirContext context = FhirContext.forR4();
  private final FhirValidator validator;
  private final OfflineGaps gaps;
  private final List<String> packages = new ArrayList<>();

  ProfileValidator(List<Path> packageFiles) throws IOException {
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
    return gaps.apply(issues(validator.validateWithResult(json)), new Request(json, null));
  }

  /**
   * One resource being validated, read as plain JSON when a rule needs to look into it (not as
   * the R4 model: a faulty resource, an unknown code, must still be readable).
   */
  private final class Request implements OfflineGaps.Context {
    private final String json;
    private final String profile; // checked besides meta.profile
    private JsonObject root;
    private final Map<String, JsonObject> entries = new HashMap<>(); // fullUrl -> resource
    private final Map<String, List<Issue>> checked = new HashMap<>();

    Request(String json, String profile) {
      this.json = json;
      this.profile = profile;
    }

    private JsonObject root() {
      if (root == null) {
        try {
          root = JsonParser.parseObject(json);
        } catch (IOException | RuntimeException e) {
          root = new JsonObject();
        }
        for (JsonObject entry : root.getJsonObjects("entry")) {
          if (entry.hasString("fullUrl") && entry.getJsonObject("resource") != null) {
            entries.put(entry.asString("fullUrl"), entry.getJsonObject("resource"));
          }
        }
      }
      return root;
    }

    @Override
    public List<Issue> targetErrors(String fullUrl, String targetProfile) {
      root();
      JsonObject target = entries.get(fullUrl);
      if (target == null) {
        return null;
      }
      return checked.computeIfAbsent(
          fullUrl + " " + targetProfile,
          k -> {
            String text = JsonParser.compose(target);
            ValidationOptions options = new ValidationOptions().addProfile(targetProfile);
            return gaps.apply(issues(validator.validateWithResult(text, options)), new Request(text, targetProfile))
                .stream()
                .filter(Issue::isError)
                .toList();
          });
    }

    @Override
    public List<String> claimedProfiles(String location) {
      JsonObject resource = root();
      Matcher m = ENTRY.matcher(location == null ? "" : location);
      if (m.lookingAt()) {
        List<JsonObject> all = resource.getJsonObjects("entry");
        int index = Integer.parseInt(m.group(1));
        resource = index < all.size() ? all.get(index).getJsonObject("resource") : null;
      }
      List<String> out = new ArrayList<>();
      if (resource != null && resource.getJsonObject("meta") != null) {
        out.addAll(resource.getJsonObject("meta").getJsonArray("profile") == null
            ? List.of()
            : resource.getJsonObject("meta").getJsonArray("profile").asStrings());
      }
      if (profile != null) {
        out.add(profile);
      }
      return out;
    }
  }

  private static List<Issue> issues(ValidationResult result) {
    return result.getMessages().stream().map(Issue::of).toList();
  }
}
