package org.fhiradapter.validator;

import ca.uhn.fhir.validation.SingleValidationMessage;
import java.util.List;

/**
 * One finding of the validator. {@code offline} is set when an error was turned into a warning
 * because the check needs a definition or code system that is not available offline; it says
 * which.
 */
record Issue(
    String severity,
    String location,
    Integer line,
    Integer column,
    String message,
    String messageId,
    List<String> details,
    String offline) {

  static Issue of(SingleValidationMessage m) {
    return new Issue(
        m.getSeverity() == null ? "error" : m.getSeverity().getCode(),
        m.getLocationString(),
        m.getLocationLine(),
        m.getLocationCol(),
        m.getMessage(),
        m.getMessageId(),
        m.hasSliceMessages() ? List.copyOf(m.getSliceMessages()) : List.of(),
        null);
  }

  boolean isError() {
    return severity.equals("error") || severity.equals("fatal");
  }

  Issue notCheckedOffline(String why) {
    return new Issue("warning", location, line, column, message, messageId, details, why);
  }

  Issue withDetails(List<String> more) {
    return new Issue(severity, location, line, column, message, messageId, more, offline);
  }
}
