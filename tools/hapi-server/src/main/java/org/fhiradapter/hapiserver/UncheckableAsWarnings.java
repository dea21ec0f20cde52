package org.fhiradapter.hapiserver;

import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.validation.IValidationContext;
import ca.uhn.fhir.validation.IValidatorModule;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.CanonicalType;
import org.hl7.fhir.r4.model.Resource;
import org.hl7.fhir.r4.model.StructureDefinition;

/**
 * HAPI's instance validator, with the errors it raises only because it cannot check something
 * turned into warnings: a profile or value set that is not installed (mCODE 4.0.0 builds on US
 * Core 6.1.0, which the npm registry does not carry), or a value set it cannot expand without
 * the code system (SNOMED CT filters). Each such message keeps its text, after a note that it was
 * not checked here. Everything the validator can check stays an error and refuses the request.
 */
public class UncheckableAsWarnings implements IValidatorModule {

	private static final Pattern CANONICAL =
			Pattern.compile("https?://[^\\s'\"|\\]\\[)(,]+/(StructureDefinition|ValueSet)/[A-Za-z0-9.\\-]+");
	private static final Pattern SLICE_NOT_MATCHED = Pattern.compile("Does not match slice '([^']+)'");
	private static final Pattern SLICE_REQUIRED = Pattern.compile("^Slice '[^':]+:([^']+)': a matching slice is required");
	private static final Pattern NO_PROFILE_MATCH = Pattern.compile("^Unable to find a profile match for (\\S+) among choices: (.+)$");
	private static final Pattern ENTRY = Pattern.compile("^(Bundle\\.entry\\[\\d+\\])");
	private static final String NOTE = "Not checked here (a definition or code system it needs is not installed): ";
	private static final String TARGET_NOTE =
			"Not checked here (the target claims this profile and has no error of its own): ";

	private final IValidatorModule validator;
	private final IValidationSupport support;
	private final ConcurrentHashMap<String, Boolean> held = new ConcurrentHashMap<>();

	public UncheckableAsWarnings(IValidatorModule validator, IValidationSupport support) {
		this.validator = validator;
		this.support = support;
	}

	@Override
	public void validateResource(IValidationContext<IBaseResource> context) {
		validator.validateResource(context);
		List<SingleValidationMessage> messages = context.getMessages();
		Set<String> uncheckedAt = new HashSet<>();
		Set<String> uncheckedSlices = new HashSet<>();
		List<SingleValidationMessage> cannotCheck = new ArrayList<>();
		for (SingleValidationMessage message : messages) {
			String text = message.getMessage();
			boolean missing = namesMissingDefinition(text);
			if (missing || (text != null && text.contains("Unable to expand ValueSet"))) {
				cannotCheck.add(message);
				uncheckedAt.add(message.getLocationString());
			}
			List<String> related = new ArrayList<>(List.of(text == null ? "" : text));
			if (message.hasSliceMessages()) {
				related.addAll(message.getSliceMessages());
			}
			for (String part : related) {
				Matcher slice = SLICE_NOT_MATCHED.matcher(part);
				if (slice.find() && namesMissingDefinition(part)) {
					uncheckedSlices.add(slice.group(1));
				}
			}
		}
		for (SingleValidationMessage message : messages) {
			if (!isError(message)) {
				continue;
			}
			Matcher required = SLICE_REQUIRED.matcher(message.getMessage());
			boolean unchecked = cannotCheck.contains(message)
					|| uncheckedAt.contains(message.getLocationString())
					|| (required.find() && uncheckedSlices.contains(required.group(1)));
			if (unchecked) {
				message.setSeverity(ResultSeverityEnum.WARNING);
				message.setMessage(NOTE + message.getMessage());
			}
		}
		downgradeUncheckableTargets(context.getResource(), messages);
	}

	/**
	 * "Unable to find a profile match for urn:uuid:X among choices: P": the validator checked the
	 * referenced entry against P and counted every failure, those it cannot check included. The
	 * reference is not refused when the entry claims P (or a profile derived from it, or none) and
	 * has no error of its own besides such references, which may go round in a cycle (a primary's stage
	 * Observation focuses the primary): every entry is taken as passing until one of its own
	 * errors, or a reference to a failing entry, says otherwise.
	 */
	private void downgradeUncheckableTargets(IBaseResource resource, List<SingleValidationMessage> messages) {
		if (!(resource instanceof Bundle bundle)) {
			return;
		}
		Map<String, Integer> entryOf = new HashMap<>();
		for (int i = 0; i < bundle.getEntry().size(); i++) {
			String fullUrl = bundle.getEntry().get(i).getFullUrl();
			if (fullUrl != null) {
				entryOf.put(fullUrl, i);
			}
		}
		Set<String> failing = new HashSet<>();
		Map<SingleValidationMessage, String> targets = new HashMap<>();
		for (SingleValidationMessage message : messages) {
			Matcher entry = ENTRY.matcher(String.valueOf(message.getLocationString()));
			if (!isError(message) || !entry.find()) {
				continue;
			}
			Matcher target = NO_PROFILE_MATCH.matcher(String.valueOf(message.getMessage()));
			Integer index = target.find() ? entryOf.get(target.group(1)) : null;
			if (index != null && claimsOneOf(bundle.getEntry().get(index).getResource(), target.group(2))) {
				targets.put(message, "Bundle.entry[" + index + "]");
			} else {
				failing.add(entry.group(1));
			}
		}
		boolean changed = true;
		while (changed) {
			changed = false;
			for (Map.Entry<SingleValidationMessage, String> reference : targets.entrySet()) {
				Matcher entry = ENTRY.matcher(reference.getKey().getLocationString());
				if (entry.find() && failing.contains(reference.getValue()) && failing.add(entry.group(1))) {
					changed = true;
				}
			}
		}
		for (Map.Entry<SingleValidationMessage, String> reference : targets.entrySet()) {
			if (!failing.contains(reference.getValue())) {
				SingleValidationMessage message = reference.getKey();
				message.setSeverity(ResultSeverityEnum.WARNING);
				message.setMessage(TARGET_NOTE + message.getMessage());
			}
		}
	}

	/**
	 * True when the resource's meta.profile names one of the choices or a profile derived from
	 * one, or names no profile at all (then only its own validation against FHIR R4 can judge it).
	 */
	private boolean claimsOneOf(Resource target, String choices) {
		if (target == null) {
			return false;
		}
		if (target.getMeta().getProfile().isEmpty()) {
			return true;
		}
		Set<String> wanted = new HashSet<>(List.of(choices.trim().split(",\\s*")));
		for (CanonicalType claimed : target.getMeta().getProfile()) {
			String url = claimed.getValue();
			for (int depth = 0; url != null && depth < 20; depth++) {
				String plain = url.contains("|") ? url.substring(0, url.indexOf('|')) : url;
				if (wanted.contains(plain)) {
					return true;
				}
				IBaseResource definition = support.fetchStructureDefinition(plain);
				url = definition instanceof StructureDefinition sd ? sd.getBaseDefinition() : null;
			}
		}
		return false;
	}

	private static boolean isError(SingleValidationMessage message) {
		return message.getSeverity() == ResultSeverityEnum.ERROR || message.getSeverity() == ResultSeverityEnum.FATAL;
	}

	/** True when the text names a profile or value set that this server does not hold. */
	private boolean namesMissingDefinition(String text) {
		if (text == null) {
			return false;
		}
		Matcher url = CANONICAL.matcher(text);
		while (url.find()) {
			String canonical = url.group();
			boolean present = held.computeIfAbsent(canonical, c -> c.contains("/StructureDefinition/")
					? support.fetchStructureDefinition(c) != null
					: support.fetchValueSet(c) != null);
			if (!present) {
				return true;
			}
		}
		return false;
	}
}
