package io.jpipe.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** {@code io.jpipe.ChildStart}: one {@code ChildProcess.start()} that returned. */
@Name("io.jpipe.ChildStart")
@Label("Child Start")
@Category("jpipe")
@Description(
    "A child JVM started: its duration is ChildProcess.start(), from the call until the child had"
        + " decoded its task")
@StackTrace(false)
final class ChildStartEvent extends jdk.jfr.Event {
  @Label("Name")
  @Description("The child's name, ChildProcess.name()")
  String name;

  @Label("Start Method")
  @Description(
      "How it started: SPAWN (a new JVM booted in start, also a WARM start with no spare ready)"
          + " or WARM (a pre-booted spare given the task)")
  String startMethod;

  @Label("Process Id")
  long pid;

  @Label("Target")
  @Description("The task: Class::method for a method reference, else the target's class")
  String target;
}
