package org.fhiradapter.validator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.context.support.ValidationSupportContext;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.parser.LenientErrorHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.utilities.json.model.JsonObject;
import org.hl7.fhir.utilities.npm.NpmPackage;

/**
 * The StructureDefinitions, ValueSets and CodeSystems of one FHIR package (.tgz, as the npm
 * registry serves it). Profiles are parsed when the package is opened, since the validator lists
 * them all; value sets and code systems only when the validator first asks for one, so that a
 * large terminology package costs little more than its index.
 */
final class PackageSupport implements IValidationSupport {

  private final FhirContext context;
  private final IParser parser;
  private final NpmPackage.NpmPackageFolder folder;
  private final String label;
  private final Map<String, String> valueSets = new HashMap<>(); // canonical url -> file name
  private final Map<String, String> codeSystems = new HashMap<>();
  private final Map<String, IBaseResource> structureDefinitions = new HashMap<>();
  private final Map<String, IBaseResource> parsed = new ConcurrentHashMap<>();

  PackageSupport(FhirContext context, Path file) throws IOException {
    this.context = context;
    parser = context.newJsonParser();
    // Definitions written for later FHIR versions may carry elements R4 lacks; keep the rest.
    parser.setParserErrorHandler(new LenientErrorHandler(false));
    NpmPackage npm;
    try (InputStream in = Files.newInputStream(file)) {
      npm = NpmPackage.fromPackage(in);
    }
    folder = npm.getFolders().get("package");
    if (folder == null) {
      throw new IOException(file + ": not a FHIR package (it has no package/ folder)");
    }
    label = npm.name() + "#" + npm.version();
    for (JsonObject entry : folder.index().getJsonObjects("files")) {
      String url = entry.asString("url");
      String name = entry.asString("filename");
      if (url == null || name == null) {
        continue;
      }
      switch (String.valueOf(entry.asString("resourceType"))) {
        case "StructureDefinition" -> structureDefinitions.put(url, parse(name));
        case "ValueSet" -> valueSets.put(url, name);
        case "CodeSystem" -> codeSystems.put(url, name);
        default -> {}
      }
    }
  }

  /** name#version, as the package names itself. */
  String label() {
    return label;
  }

  private IBaseResource parse(String name) {
    try {
      return parser.parseResource(new String(folder.fetchFile(name), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(label + ": " + name + " cannot be read", e);
    }
  }

  private IBaseResource lazily(Map<String, String> files, String url) {
    String name = files.get(withoutVersion(url));
    return name == null ? null : parsed.computeIfAbsent(name, this::parse);
  }

  private static String withoutVersion(String url) {
    int bar = url == null ? -1 : url.indexOf('|');
    return bar < 0 ? url : url.substring(0, bar);
  }

  @Override
  public FhirContext getFhirContext() {
    return context;
  }

  @Override
  public String getName() {
    return label;
  }

  @SuppressWarnings("unchecked")
  @Override
  public <T extends IBaseResource> List<T> fetchAllStructureDefinitions() {
    return (List<T>) new ArrayList<>(structureDefinitions.values());
  }

  @SuppressWarnings("unchecked")
  @Override
  public <T extends IBaseResource> List<T> fetchAllNonBaseStructureDefinitions() {
    return fetchAllStructureDefinitions();
  }

  @Override
  public IBaseResource fetchStructureDefinition(String url) {
    return structureDefinitions.get(withoutVersion(url));
  }

  @Override
  public IBaseResource fetchValueSet(String url) {
    return lazily(valueSets, url);
  }

  @Override
  public IBaseResource fetchCodeSystem(String url) {
    return lazily(codeSystems, url);
  }

  @Override
  public boolean isValueSetSupported(ValidationSupportContext support, String url) {
    return valueSets.containsKey(withoutVersion(url));
  }

  @Override
  public boolean isCodeSystemSupported(ValidationSupportContext support, String url) {
    return codeSystems.containsKey(withoutVersion(url));
  }
}
