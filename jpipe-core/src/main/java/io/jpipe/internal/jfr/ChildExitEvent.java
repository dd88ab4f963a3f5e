package io.jpipe.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/** {@code io.jpipe.ChildExit}: a started child was reaped. */
@Name("io.jpipe.ChildExit")
@Label("Child Exit")
@Category("jpipe")
@Description("A child JVM started by this process exited and was reaped")
@StackTrace(false)
final class ChildExitEvent extends jdk.jfr.Event {
  @Label("Name")
  @Description("The child's name, ChildProcess.name()")
  String name;

  @Label("Process Id")
  long pid;

  @Label("Exit Code")
  @Description(
      "As ChildProcess.exitCode(): the exit status, or minus the signal that killed the child")
  int exitCode;

  @Label("Signal")
  @Description("The signal that killed the child (15 for terminate, 9 for kill), 0 if it exited")
  int signal;

  @Label("Lifetime")
  @Description("From the launch (once its pid was known) to the exit being observed")
  @Timespan(Timespan.NANOSECONDS)
  long lifetime;
}
