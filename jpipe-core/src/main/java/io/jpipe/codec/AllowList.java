package io.jpipe.codec;

import java.io.ObjectInputFilter;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The classes {@link JavaSerializationCodec#allowing} decodes: the user's patterns first (the first
 * that matches decides, as in {@link ObjectInputFilter.Config#createFilter}), then the default
 * patterns, then the rules for arrays, records and enums; anything else is rejected.
 */
final class AllowList {
  /** The default patterns, in {@link ObjectInputFilter.Config#createFilter} syntax. */
  static final List<String> DEFAULT_PATTERNS =
      List.of(
          "java.lang.String",
          "java.lang.Boolean",
          "java.lang.Byte",
          "java.lang.Short",
          "java.lang.Integer",
          "java.lang.Long",
          "java.lang.Float",
          "java.lang.Double",
          "java.lang.Character",
          "java.lang.Number",
          "java.lang.Enum",
          "java.math.BigInteger",
          "java.math.BigDecimal",
          "java.time.**",
          "java.util.UUID",
          "java.util.ArrayList",
          "java.util.LinkedList",
          "java.util.ArrayDeque",
          "java.util.HashMap",
          "java.util.LinkedHashMap",
          "java.util.TreeMap",
          "java.util.HashSet",
          "java.util.LinkedHashSet",
          "java.util.TreeSet",
          "java.util.CollSer",
          "java.util.ImmutableCollections$*",
          "java.util.Arrays$ArrayList",
          "java.util.AbstractMap$SimpleEntry",
          "java.util.AbstractMap$SimpleImmutableEntry",
          "java.util.Collections$Unmodifiable*",
          "java.util.Collections$Synchronized*",
          "java.util.Collections$Empty*",
          "java.util.Collections$Singleton*",
          "java.util.Collections$ReverseComparator*",
          "java.lang.String$CaseInsensitiveComparator");

  private static final ObjectInputFilter DEFAULTS =
      ObjectInputFilter.Config.createFilter(String.join(";", DEFAULT_PATTERNS));

  /** The user's patterns, as given. */
  private final List<String> patterns;

  /** The user's patterns as a filter, or null if there are none. */
  private final ObjectInputFilter user;

  /** Per class: whether it is allowed (records and arrays need a look at the class). */
  private final ClassValue<Boolean> decisions =
      new ClassValue<>() {
        @Override
        protected Boolean computeValue(Class<?> type) {
          return decide(type, new HashSet<>());
        }
      };

  AllowList(String... patterns) {
    List<String> list = new ArrayList<>();
    for (String p : patterns) {
      Objects.requireNonNull(p, "pattern");
      String trimmed = p.strip();
      if (trimmed.isEmpty() || trimmed.contains(";")) {
        throw new IllegalArgumentException(
            "not one ObjectInputFilter pattern: '" + p + "' (give each pattern separately)");
      }
      list.add(trimmed);
    }
    this.patterns = Collections.unmodifiableList(list);
    this.user =
        list.isEmpty() ? null : ObjectInputFilter.Config.createFilter(String.join(";", list));
  }

  /** The user's patterns. */
  List<String> patterns() {
    return patterns;
  }

  /** Whether objects of this class (or arrays of it) may be decoded. */
  boolean allows(Class<?> type) {
    return decisions.get(type);
  }

  private boolean decide(Class<?> type, Set<Class<?>> seen) {
    Class<?> element = type;
    while (element.isArray()) {
      element = element.getComponentType();
    }
    if (element.isPrimitive()) {
      return true;
    }
    if (element != type
        && isOpen(element)
        && status(user, element) != ObjectInputFilter.Status.REJECTED) {
      return true; // Object[], List[]: each element that arrives is checked on its own
    }
    ObjectInputFilter.Status verdict = status(user, element);
    if (verdict != ObjectInputFilter.Status.UNDECIDED) {
      return verdict == ObjectInputFilter.Status.ALLOWED;
    }
    if (status(DEFAULTS, element) == ObjectInputFilter.Status.ALLOWED) {
      return true;
    }
    if (element.isEnum() && element.getName().startsWith("java.")) {
      return true;
    }
    return element.isRecord() && componentsAllowed(element, seen);
  }

  /**
   * A record is allowed when the declared type of each component is: primitive, an interface or
   * abstract class (what arrives is checked on its own), or a class this list allows.
   */
  private boolean componentsAllowed(Class<?> record, Set<Class<?>> seen) {
    if (!seen.add(record)) {
      return true; // a record that refers to itself: decided by its other components
    }
    for (RecordComponent c : record.getRecordComponents()) {
      Class<?> t = c.getType();
      while (t.isArray()) {
        t = t.getComponentType();
      }
      if (t.isPrimitive() || isOpen(t)) {
        continue;
      }
      if (!decide(t, seen)) {
        return false;
      }
    }
    return true;
  }

  /** A type no object has as its own class: what arrives in its place is checked on its own. */
  private static boolean isOpen(Class<?> t) {
    return t == Object.class || t.isInterface() || Modifier.isAbstract(t.getModifiers());
  }

  private static ObjectInputFilter.Status status(ObjectInputFilter filter, Class<?> type) {
    if (filter == null) {
      return ObjectInputFilter.Status.UNDECIDED;
    }
    return filter.checkInput(new ClassOnly(type));
  }

  /** What a pattern filter is shown: only the class. */
  private record ClassOnly(Class<?> serialClass) implements ObjectInputFilter.FilterInfo {
    @Override
    public long arrayLength() {
      return -1;
    }

    @Override
    public long depth() {
      return 1;
    }

    @Override
    public long references() {
      return 1;
    }

    @Override
    public long streamBytes() {
      return 0;
    }
  }
}
