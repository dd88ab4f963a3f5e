package io.jpipe.internal.pool;

import io.jpipe.ProcessPool;
import java.io.InvalidObjectException;
import java.io.NotSerializableException;
import java.io.ObjectStreamException;
import java.io.Serial;
import java.io.Serializable;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandleInfo;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.UndeclaredThrowableException;

/**
 * A function that is a reference to a static method, as it travels to workers: the method's class,
 * name and descriptor. A worker calls it by reflection instead of deserializing the lambda, which
 * would make it spin a lambda class before its first task.
 *
 * @param className the binary class name
 * @param methodName the method name
 * @param descriptor the method descriptor
 */
record StaticFn(String className, String methodName, String descriptor) implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * What travels for {@code fn}: a {@link StaticFn} when it is a non-capturing reference to a
   * static method of one argument that this module may call, else {@code fn} itself.
   */
  static Object describe(Object fn) {
    Class<?> type = fn.getClass();
    if (!type.isHidden()) {
      return fn;
    }
    try {
      Method writeReplace = type.getDeclaredMethod("writeReplace");
      writeReplace.setAccessible(true);
      if (writeReplace.invoke(fn) instanceof SerializedLambda sl
          && sl.getImplMethodKind() == MethodHandleInfo.REF_invokeStatic
          && sl.getCapturedArgCount() == 0
          && sl.getFunctionalInterfaceMethodName().equals("apply")) {
        String name = sl.getImplClass().replace('/', '.');
        Class<?> impl = Class.forName(name, false, type.getClassLoader());
        if (impl.getModule().isOpen(impl.getPackageName(), StaticFn.class.getModule())
            && MethodType.fromMethodDescriptorString(
                        sl.getImplMethodSignature(), type.getClassLoader())
                    .parameterCount()
                == 1) {
          return new StaticFn(name, sl.getImplMethodName(), sl.getImplMethodSignature());
        }
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      // not a lambda we can look into (a named module that does not open it): send it whole
    }
    return fn;
  }

  /** The function, in the worker. */
  ProcessPool.Fn<Object, Object> resolve() throws InvalidObjectException {
    try {
      ClassLoader loader = Thread.currentThread().getContextClassLoader();
      Class<?> impl = Class.forName(className, true, loader);
      MethodType type = MethodType.fromMethodDescriptorString(descriptor, impl.getClassLoader());
      for (Method m : impl.getDeclaredMethods()) {
        if (m.getName().equals(methodName)
            && Modifier.isStatic(m.getModifiers())
            && MethodType.methodType(m.getReturnType(), m.getParameterTypes()).equals(type)) {
          m.setAccessible(true);
          MethodHandle h =
              MethodHandles.lookup()
                  .unreflect(m)
                  .asType(MethodType.methodType(Object.class, Object.class));
          return new Call(h);
        }
      }
      throw new InvalidObjectException("no method " + className + "." + methodName + descriptor);
    } catch (ReflectiveOperationException | RuntimeException e) {
      InvalidObjectException x =
          new InvalidObjectException("cannot call " + className + "." + methodName);
      x.initCause(e);
      throw x;
    }
  }

  /**
   * Calls the method through a handle of type {@code (Object)Object} (no argument array, no access
   * check per call, as {@link Method#invoke} has); what it throws is thrown as it is.
   */
  private static final class Call implements ProcessPool.Fn<Object, Object> {
    @Serial private static final long serialVersionUID = 1L;

    private final transient MethodHandle handle;

    Call(MethodHandle handle) {
      this.handle = handle;
    }

    @Override
    public Object apply(Object a) throws Exception {
      try {
        return (Object) handle.invokeExact(a);
      } catch (Exception | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new UndeclaredThrowableException(t);
      }
    }

    @Serial
    private Object writeReplace() throws ObjectStreamException {
      throw new NotSerializableException("a resolved StaticFn");
    }
  }
}
