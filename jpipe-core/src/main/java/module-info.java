/**
 * jpipe: Python's {@code multiprocessing} Pipe model on the JVM, over real kernel pipes and
 * sockets, called through the Foreign Function &amp; Memory API.
 */
module io.jpipe {
  exports io.jpipe;
  exports io.jpipe.codec;
  exports io.jpipe.net;

  requires jdk.unsupported; // sun.misc.Signal, used reflectively by the child bootstrap
  requires java.management; // the JVM's input arguments, which children inherit in part
  requires jdk.jfr; // JFR events (io.jpipe.internal.jfr); not static, see Jfr for why
}
