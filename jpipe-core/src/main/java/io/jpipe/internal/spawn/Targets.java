package io.jpipe.internal.spawn;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.lang.invoke.MethodHandleInfo;
import java.lang.invoke.MethodType;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;

/**
 * Calls a child's target with its arguments.
 *
 * <p>A target is usually a method reference to a static method ({@code Demo::consumer}). Sent as a
 * serialized lambda, it would make the child run the lambda metafactory and spin a class before the
 * task starts; so such a target travels as the method's class, name and descriptor and is called by
 * reflection. Any other target (a lambda that captures values, a reference to an instance method)
 * travels as the serialized lambda.
 */
final class Targets {
  private Targets() {}

  /** A static method, named (a plain class: records are slow to deserialize in a new JVM). */
  static final class StaticMethod implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    /** The binary class name. */
    final String className;

    /** The method name. */
    final String methodName;

    /** The method descriptor. */
    final String descriptor;

    StaticMethod(String className, String methodName, String descriptor) {
      this.className = className;
      this.methodName = methodName;
      this.descriptor = descriptor;
    }
  }

  /** What travels for {@code target}: a {@link StaticMethod} where possible, else the target. */
  static Serializable describe(Serializable target) {
    if (!target.getClass().isHidden()) {
      return target; // not a lambda: its own writeReplace, if any, is serialization's to call
    }
    try {
      Method writeReplace = target.getClass().getDeclaredMethod("writeReplace");
      writeReplace.setAccessible(true);
      if (writeReplace.invoke(target) instanceof SerializedLambda sl
          && sl.getImplMethodKind() == MethodHandleInfo.REF_invokeStatic
          && sl.getCapturedArgCount() == 0) {
        return new StaticMethod(
            sl.getImplClass().replace('/', '.'),
            sl.getImplMethodName(),
            sl.getImplMethodSignature());
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      // not a lambda, or not open to us (a named module): send it as it is
    }
    return target;
  }

  /**
   * Says which value a target captured cannot be serialized: {@code e} names only the class of the
   * object that stopped serialization, which may sit deep inside a captured value.
   *
   * @param target the target
   * @param e what serializing it threw
   * @return the exception to throw instead, caused by {@code e}
   */
  static NotSerializableException notSerializable(Object target, NotSerializableException e) {
    String offending = e.getMessage();
    Class<?> type = target.getClass();
    boolean lambda = type.isHidden() || type.isSynthetic();
    String enclosing = lambda ? type.getName().replaceFirst("\\$\\$Lambda.*$", "") : null;
    List<String> found = new ArrayList<>();
    for (Field f : type.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers()) || Modifier.isTransient(f.getModifiers())) {
        continue;
      }
      Object value;
      try {
        f.setAccessible(true);
        value = f.get(target);
      } catch (ReflectiveOperationException | RuntimeException ex) {
        // a named module that does not open the target's package: judge by the declared type
        Class<?> t = f.getType();
        if (t.getName().equals(offending)
            || (!t.isInterface() && !t.isPrimitive() && !Serializable.class.isAssignableFrom(t))) {
          found.add("captured " + f.getName() + " of type " + t.getName() + " is not Serializable");
        }
        continue;
      }
      if (value == null || value instanceof Connection || value instanceof ProcessLock) {
        continue; // these travel as descriptors
      }
      String valueType = value.getClass().getName();
      if (!(value instanceof Serializable) || valueType.equals(offending)) {
        String hint =
            valueType.equals(enclosing)
                ? " (the lambda uses `this`, through an instance field or method: copy what it"
                    + " needs into a local variable, or make the target a static method)"
                : "";
        found.add(
            "captured " + f.getName() + " of type " + valueType + " is not Serializable" + hint);
      } else if (holds(value, offending)) {
        found.add(
            "captured "
                + f.getName()
                + " of type "
                + valueType
                + " holds an instance of "
                + offending
                + ", which is not Serializable");
      }
    }
    String what =
        lambda ? "the target (a lambda in " + enclosing + ")" : "the target " + type.getName();
    NotSerializableException n =
        new NotSerializableException(
            what
                + " cannot be sent to the child: "
                + (found.isEmpty()
                    ? offending + " is not Serializable"
                    : String.join("; ", found)));
    n.initCause(e);
    return n;
  }

  /** Whether serializing {@code value} stops at an object of class {@code offending}. */
  private static boolean holds(Object value, String offending) {
    try (ObjectOutputStream out = new SkippingDescriptors()) {
      out.writeObject(value);
      return false;
    } catch (NotSerializableException e) {
      return offending.equals(e.getMessage());
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /**
   * Serializes to nowhere, as {@link Inheritance.Output} does but with nothing for what it
   * replaces.
   */
  private static final class SkippingDescriptors extends ObjectOutputStream {
    SkippingDescriptors() throws IOException {
      super(OutputStream.nullOutputStream());
      enableReplaceObject(true);
    }

    @Override
    protected Object replaceObject(Object obj) {
      return obj instanceof Connection || obj instanceof ProcessLock ? null : obj;
    }
  }

  @SuppressWarnings("unchecked")
  static void invoke(Object target, Object[] a) throws Exception {
    switch (target) {
      case StaticMethod m -> call(m, a);
      case ChildProcess.Target0 t -> t.run();
      case ChildProcess.Target1<?> t -> ((ChildProcess.Target1<Object>) t).run(a[0]);
      case ChildProcess.Target2<?, ?> t ->
          ((ChildProcess.Target2<Object, Object>) t).run(a[0], a[1]);
      case ChildProcess.Target3<?, ?, ?> t ->
          ((ChildProcess.Target3<Object, Object, Object>) t).run(a[0], a[1], a[2]);
      case ChildProcess.Target4<?, ?, ?, ?> t ->
          ((ChildProcess.Target4<Object, Object, Object, Object>) t).run(a[0], a[1], a[2], a[3]);
      default -> throw new IllegalArgumentException("not a ChildProcess target: " + target);
    }
  }

  private static void call(StaticMethod m, Object[] a) throws Exception {
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    Class<?> c = Class.forName(m.className, true, loader);
    MethodType type = MethodType.fromMethodDescriptorString(m.descriptor, loader);
    Method method = c.getDeclaredMethod(m.methodName, type.parameterArray());
    method.setAccessible(true);
    try {
      method.invoke(null, a);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof Exception ex) {
        throw ex;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }
}
