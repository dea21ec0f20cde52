package org.fhiradapter.validator;

import ca.uhn.fhir.context.support.IValidationSupport;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hl7.fhir.r4.model.ElementDefinition;
import org.hl7.fhir.r4.model.StructureDefinition;

/**
 * Errors that say nothing about the resource, only about what this offline validator lacks.
 *
 * <p>Two things are missing here: US Core 6.1.0 (mCODE builds on it, but it is not on the npm
 * registry, so its profiles, extensions and value sets are not loaded), and the content of the
 * large external code systems (SNOMED CT, LOINC, ...), so value sets defined by a filter on them
 * cannot be expanded. An error caused only by one of these becomes a warning that names the
 * missing piece ({@link Issue#offline}); every other error stays an error. The rules are narrow:
 * each names the message the validator gives, and checks that the definition it blames is
 * really not loaded.
 */
final class OfflineGaps {

  private static final Pattern QUOTED = Pattern.compile("'([^']+)'");
  private static final Pattern SLICE_PROFILE =
      Pattern.compile("profile \\[CanonicalType\\[([^\\]]+)\\]\\] on \\S+ could not be resolved");
  private static final Pattern NOT_PRESENT =
      Pattern.compile("because CodeSystem '([^']+)' is ignored/not-present");
  private static final Pattern REQUIRED_SLICE =
      Pattern.compile("Slice '([^']+)': a matching slice is required, but not found \\(from ([^|)]+)");
  private static final Pattern NO_MATCH =
      Pattern.compile("Unable to find a profile match for (\\S+) among choices: (.+)$");
  // A location as an element path: no /*Type/id*/ comments, no indexes, no Bundle entry prefix.
  private static final Pattern COMMENT = Pattern.compile("/\\*.*?\\*/");
  private static final Pattern INDEX = Pattern.compile("\\[\\d+\\]");
  private static final Pattern IN_ENTRY = Pattern.compile("^Bundle\\.entry\\.resource\\.");

  /** What the rules need to know about the resource being validated. */
  interface Context {
    /** The errors, after these rules, of a reference's target against a profile; null if not found. */
    List<Issue> targetErrors(String reference, String profile);

    /** The profiles the resource at a location claims (its meta.profile, and any asked for). */
    List<String> claimedProfiles(String location);
  }

  private final IValidationSupport support;

  OfflineGaps(IValidationSupport support) {
    this.support = support;
  }

  private boolean profileLoaded(String url) {
    return support.fetchStructureDefinition(url) != null;
  }

  private boolean valueSetLoaded(String url) {
    return support.fetchValueSet(url) != null;
  }

  /** Turns the errors the missing pieces cause into warnings; every other issue is kept as it is. */
  List<Issue> apply(List<Issue> issues, Context context) {
    List<Issue> out = new ArrayList<>(issues.size());
    Set<String> unresolvedTarget = new HashSet<>(); // locations where a target profile is missing
    Map<String, String> unexpandable = new HashMap<>(); // location -> code system not loaded
    for (Issue issue : issues) {
      out.add(issue.isError() ? first(issue, unresolvedTarget, unexpandable) : issue);
    }
    for (int i = 0; i < out.size(); i++) {
      Issue issue = out.get(i);
      if (issue.isError()) {
        out.set(i, second(issue, unresolvedTarget, unexpandable, context));
      }
    }
    return out;
  }

  private Issue first(Issue issue, Set<String> unresolvedTarget, Map<String, String> unexpandable) {
    String id = String.valueOf(issue.messageId());
    String message = String.valueOf(issue.message());
    if (id.equals("Reference_REF_CantResolveProfile")) {
      Matcher m = QUOTED.matcher(message);
      if (m.find() && !profileLoaded(m.group(1))) {
        unresolvedTarget.add(issue.location());
        return issue.notCheckedOffline("the target profile " + m.group(1) + " is not loaded");
      }
    }
    if (id.equals("SLICING_CANNOT_BE_EVALUATED")) {
      Matcher m = SLICE_PROFILE.matcher(message);
      if (m.find() && !profileLoaded(m.group(1))) {
        return issue.notCheckedOffline("the slice's profile " + m.group(1) + " is not loaded");
      }
    }
    Matcher notPresent = NOT_PRESENT.matcher(message);
    if (notPresent.find()) {
      unexpandable.put(issue.location(), notPresent.group(1));
      return issue.notCheckedOffline(
          "the value set draws on " + notPresent.group(1) + ", whose content is not loaded");
    }
    if (id.equals("Validation_VAL_Profile_Minimum_SLICE")) {
      Matcher m = REQUIRED_SLICE.matcher(message);
      String missing = m.find() ? missingSliceDefinition(m.group(2), m.group(1)) : null;
      if (missing != null) {
        return issue.notCheckedOffline("the slice is recognised by " + missing + ", which is not loaded");
      }
    }
    return issue;
  }

  private Issue second(
      Issue issue,
      Set<String> unresolvedTarget,
      Map<String, String> unexpandable,
      Context context) {
    String id = String.valueOf(issue.messageId());
    if (id.startsWith("Reference_REF_BadTargetType")) {
      if (unresolvedTarget.contains(issue.location())) {
        return issue.notCheckedOffline("a target profile allowed here is not loaded");
      }
      String missing = missingTargetProfile(issue.location(), context.claimedProfiles(issue.location()));
      if (missing != null) {
        return issue.notCheckedOffline("the target profile " + missing + " allowed here is not loaded");
      }
    }
    if (id.startsWith("Terminology_TX_NoValid") && unexpandable.containsKey(issue.location())) {
      return issue.notCheckedOffline(
          "the value set draws on " + unexpandable.get(issue.location()) + ", whose content is not loaded");
    }
    if (id.equals("Reference_REF_CantMatchChoice")) {
      Matcher m = NO_MATCH.matcher(String.valueOf(issue.message()));
      if (m.find()) {
        List<String> why = new ArrayList<>();
        for (String profile : m.group(2).split(",\\s*")) {
          List<Issue> errors = context.targetErrors(m.group(1), profile.trim());
          if (errors == null) {
            return issue;
          }
          if (errors.isEmpty()) {
            return issue.notCheckedOffline(
                "the target meets " + profile.trim() + " in everything that can be checked offline");
          }
          for (Issue e : errors) {
            why.add(e.location() + ": " + e.message());
          }
        }
        return issue.withDetails(why);
      }
    }
    return issue;
  }

  /**
   * A target profile of the reference element at a location that is not loaded, in any profile
   * the resource claims; else null. Only plain element paths are looked up (not slices).
   */
  private String missingTargetProfile(String location, List<String> profiles) {
    String path = INDEX.matcher(COMMENT.matcher(String.valueOf(location)).replaceAll("")).replaceAll("");
    for (String url : profiles) {
      if (!(support.fetchStructureDefinition(url) instanceof StructureDefinition sd)) {
        continue;
      }
      String elementPath = IN_ENTRY.matcher(path).replaceFirst(sd.getType() + ".");
      for (ElementDefinition element : sd.getSnapshot().getElement()) {
        if (!element.getPath().equals(elementPath) || element.getId().contains(":")) {
          continue;
        }
        for (ElementDefinition.TypeRefComponent type : element.getType()) {
          for (var target : type.getTargetProfile()) {
            if (!profileLoaded(target.getValue())) {
              return target.getValue();
            }
          }
        }
      }
    }
    return null;
  }

  /** The value set or profile that recognises a slice, when it is not loaded; else null. */
  private String missingSliceDefinition(String profileUrl, String sliceId) {
    if (!(support.fetchStructureDefinition(profileUrl) instanceof StructureDefinition sd)) {
      return null;
    }
    for (ElementDefinition element : sd.getSnapshot().getElement()) {
      if (!sliceId.equals(element.getId())) {
        continue;
      }
      String valueSet = element.getBinding().getValueSet();
      if (valueSet != null && !valueSetLoaded(valueSet)) {
        return valueSet;
      }
      for (ElementDefinition.TypeRefComponent type : element.getType()) {
        for (var profile : type.getProfile()) {
          if (!profileLoaded(profile.getValue())) {
            return profile.getValue();
          }
        }
      }
    }
    return null;
  }
}
