package io.jpipe.internal.pool;

/**
 * The pool protocol between the parent and a worker, one connection each way (a duplex pipe).
 *
 * <p>The parent sends messages made of records, several tasks per message:
 *
 * <ul>
 *   <li>{@link #DEFINE} {@code int id, blob fn}: a function, Java-serialized, that later calls name
 *       by {@code id};
 *   <li>{@link #DROP} {@code int id}: the worker may forget function {@code id};
 *   <li>{@link #CALL} {@code long task, byte kind, int fn, [blob inline if fn == -1], [value arg]}:
 *       run a task (a {@code kind} of {@link #CALLABLE}, {@link #RUNNABLE}, {@link #APPLY} or
 *       {@link #CHUNK}; only the last two have an argument);
 *   <li>{@link #CANCEL} {@code long task}: skip that task if it has not started.
 * </ul>
 *
 * <p>Closing the parent's end tells the worker to exit once its tasks are done. The worker answers
 * with one message per record: {@link #READY} once its initializer ran, {@link #INIT_FAILED} {@code
 * failure} if it threw (then it exits), and per task {@link #RESULT} {@code long task, byte status,
 * value | failure}, in the order the tasks came. Values are {@link Values}, failures {@link
 * RemoteFailure}.
 */
final class Wire {
  static final int DEFINE = 1;
  static final int DROP = 2;
  static final int CALL = 3;
  static final int CANCEL = 4;

  static final int READY = 10;
  static final int INIT_FAILED = 11;
  static final int RESULT = 12;

  static final int CALLABLE = 0;
  static final int RUNNABLE = 1;
  static final int APPLY = 2;
  static final int CHUNK = 3;

  static final int OK = 0;
  static final int FAILED = 1;
  static final int SKIPPED = 2;

  /** The fn field of a CALL whose task object travels inline. */
  static final int INLINE = -1;

  private Wire() {}
}
