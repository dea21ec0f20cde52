package org.fhiradapter.validator;

import ca.uhn.fhir.util.VersionUtil;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One JVM for a whole run. Usage: {@code java -jar hapi-validator.jar --package FILE.tgz...}
 *
 * <p>Once the packages are loaded, one line goes to stdout: {"ready": true, "hapi": version,
 * "packages": [name#version...], "loadSeconds": s}. Then each line on stdin is one FHIR resource
 * as JSON (a Bundle or any single resource) and gets exactly one line back, in the same order:
 * {"issues": [{"severity", "location", "line", "column", "message", "messageId", "details"?,
 * "notCheckedOffline"?}], "seconds": s}: an error that only a missing definition or code system
 * causes comes as a warning whose notCheckedOffline names what is missing (see OfflineGaps).
 * The run ends at the end of stdin. Exit status 2: bad arguments or a package that cannot be read.
 */
public final class Main {

  private Main() {}

  public static void main(String[] args) throws IOException {
    long started = System.nanoTime();
    // stdout carries the answers only: whatever a library prints goes to stderr.
    OutputStream answers = new FileOutputStream(FileDescriptor.out);
    System.setOut(System.err);
    List<Path> packages = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--package") && i + 1 < args.length) {
        packages.add(Path.of(args[++i]));
      } else {
        System.err.println("usage: java -jar hapi-validator.jar --package FILE.tgz...");
        System.exit(2);
      }
    }
    for (Path file : packages) {
      if (!Files.isReadable(file)) {
        System.err.println(file + ": no such package file");
        System.exit(2);
      }
    }
    ProfileValidator validator;
    try {
      validator = new ProfileValidator(packages);
    } catch (IOException | RuntimeException e) {
      System.err.println("the FHIR packages could not be loaded: " + e);
      System.exit(2);
      return;
    }
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
    BufferedWriter out =
        new BufferedWriter(new OutputStreamWriter(answers, StandardCharsets.UTF_8), 1 << 16);

    StringBuilder ready = new StringBuilder("{\"ready\":true,\"hapi\":");
    string(ready, VersionUtil.getVersion()).append(",\"packages\":[");
    for (int i = 0; i < validator.packages().size(); i++) {
      string(i == 0 ? ready : ready.append(','), validator.packages().get(i));
    }
    ready.append("],\"loadSeconds\":").append(seconds(started)).append('}');
    line(out, ready);

    String request;
    while ((request = in.readLine()) != null) {
      long t0 = System.nanoTime();
      List<Issue> messages;
      try {
        messages = validator.validate(request);
      } catch (RuntimeException e) {
        // One resource that breaks the validator must not end the run: report it, go on.
        messages = List.of(crash(e));
      }
      StringBuilder answer = new StringBuilder("{\"issues\":[");
      for (int i = 0; i < messages.size(); i++) {
        issue(i == 0 ? answer : answer.append(','), messages.get(i));
      }
      answer.append("],\"seconds\":").append(seconds(t0)).append('}');
      line(out, answer);
    }
  }

  private static Issue crash(RuntimeException e) {
    StringWriter trace = new StringWriter();
    e.printStackTrace(new PrintWriter(trace));
    System.err.println(trace);
    return new Issue(
        "fatal", null, null, null, "the validator failed on this resource: " + e, null, List.of(), null);
  }

  private static void issue(StringBuilder b, Issue issue) {
    b.append("{\"severity\":");
    string(b, issue.severity());
    b.append(",\"location\":");
    string(b, issue.location());
    b.append(",\"line\":").append(issue.line());
    b.append(",\"column\":").append(issue.column());
    b.append(",\"message\":");
    string(b, issue.message());
    b.append(",\"messageId\":");
    string(b, issue.messageId());
    if (issue.offline() != null) {
      b.append(",\"notCheckedOffline\":");
      string(b, issue.offline());
    }
    if (!issue.details().isEmpty()) {
      b.append(",\"details\":[");
      for (int i = 0; i < issue.details().size(); i++) {
        string(i == 0 ? b : b.append(','), issue.details().get(i));
      }
      b.append(']');
    }
    b.append('}');
  }

  private static void line(BufferedWriter out, CharSequence text) throws IOException {
    out.append(text).append('\n');
    out.flush();
  }

  private static String seconds(long since) {
    return String.format(Locale.ROOT, "%.4f", (System.nanoTime() - since) / 1e9);
  }

  /** Appends a JSON string (or null). */
  private static StringBuilder string(StringBuilder b, String s) {
    if (s == null) {
      return b.append("null");
    }
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"');
  }
}
