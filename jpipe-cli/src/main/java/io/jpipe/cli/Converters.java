package io.jpipe.cli;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Option values that picocli does not read by itself: durations, sizes, positive counts. */
final class Converters {
  private Converters() {}

  private static final Pattern AMOUNT = Pattern.compile("(\\d{1,12})([a-z]*)");

  /**
   * A duration: {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, a bare number of seconds, or
   * ISO-8601 ({@code PT30S}); {@code 0} or {@code none} for no limit ({@link Duration#ZERO}).
   */
  static final class DurationConverter implements ITypeConverter<Duration> {
    /** Creates the converter (picocli instantiates it). */
    DurationConverter() {}

    @Override
    public Duration convert(String text) {
      String t = text.strip().toLowerCase(Locale.ROOT);
      if (t.equals("none")) {
        return Duration.ZERO;
      }
      if (t.startsWith("pt") || t.startsWith("p")) {
        try {
          Duration d = Duration.parse(t.toUpperCase(Locale.ROOT));
          if (d.isNegative()) {
            throw new TypeConversionException("a duration must not be negative: '" + text + "'");
          }
          return d;
        } catch (DateTimeParseException e) {
          throw bad(text);
        }
      }
      Matcher m = AMOUNT.matcher(t);
      if (!m.matches()) {
        throw bad(text);
      }
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "", "s" -> Duration.ofSeconds(n);
        case "ms" -> Duration.ofMillis(n);
        case "m", "min" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> throw bad(text);
      };
    }

    private static TypeConversionException bad(String text) {
      return new TypeConversionException(
          "'" + text + "' is not a duration (such as 500ms, 30s, 5m, 1h, or none)");
    }
  }

  /** A size in bytes: {@code 1048576}, {@code 64k}, {@code 16M}, {@code 1G} (powers of 1024). */
  static final class SizeConverter implements ITypeConverter<Integer> {
    /** Creates the converter (picocli instantiates it). */
    SizeConverter() {}

    @Override
    public Integer convert(String text) {
      Matcher m = AMOUNT.matcher(text.strip().toLowerCase(Locale.ROOT));
      if (!m.matches()) {
        throw bad(text);
      }
      long unit =
          switch (m.group(2)) {
            case "", "b" -> 1;
            case "k", "kb", "kib" -> 1L << 10;
            case "m", "mb", "mib" -> 1L << 20;
            case "g", "gb", "gib" -> 1L << 30;
            default -> throw bad(text);
          };
      long n = Long.parseLong(m.group(1));
      if (n > Integer.MAX_VALUE / unit) {
        throw new TypeConversionException("'" + text + "' is more than 2 GiB - 1");
      }
      if (n == 0) {
        throw new TypeConversionException("a size must be at least 1 byte");
      }
      return (int) (n * unit);
    }

    private static TypeConversionException bad(String text) {
      return new TypeConversionException(
          "'" + text + "' is not a size (such as 4096, 64k, 16M, 1G)");
    }
  }

  /** A whole number of at least 1. */
  static final class PositiveConverter implements ITypeConverter<Integer> {
    /** Creates the converter (picocli instantiates it). */
    PositiveConverter() {}

    @Override
    public Integer convert(String text) {
      int n;
      try {
        n = Integer.parseInt(text.strip());
      } catch (NumberFormatException e) {
        throw new TypeConversionException("'" + text + "' is not a whole number");
      }
      if (n < 1) {
        throw new TypeConversionException("must be at least 1, was " + n);
      }
      return n;
    }
  }
}
