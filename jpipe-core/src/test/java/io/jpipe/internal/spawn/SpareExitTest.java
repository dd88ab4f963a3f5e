package io.jpipe.internal.spawn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.FdPassing;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Frames;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Linux;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A spare whose parent gives it up, at any point before it has a task, exits at once with code 0
 * and prints nothing: whether the parent's end is closed before the spare says it is ready (a
 * broken pipe), with the ready byte unread (a reset: what a parent that exits does to a spare that
 * has just booted), after reading it (end of file), or after passing the descriptors of a task but
 * not the task (end of file in the middle of the hand-over).
 */
class SpareExitTest {
  @TempDir Path dir;

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {"closedBeforeReady", "readyByteUnread", "readyByteRead", "descriptorsButNoTask"})
  void aSpareGivenUpExitsQuietly(String when) throws Exception {
    Path output = dir.resolve("spare.out");
    List<String> argv = new ArrayList<>();
    // The shell sends the spare's stdout and stderr to a file, then becomes the spare.
    argv.addAll(List.of("/bin/sh", "-c", "o=$1; shift; exec \"$@\" >\"$o\" 2>&1", "sh"));
    argv.add(output.toString());
    argv.addAll(ChildJvm.standard().command(List.of(), "spare", "3"));
    int[] pair = Fds.socketpair();
    int pid;
    try {
      pid = Spawner.spawn(argv, new int[] {pair[1]});
    } catch (Exception e) {
      Fds.closeQuietly(pair[0]);
      throw e;
    } finally {
      Fds.closeQuietly(pair[1]);
    }
    FdChannel ctl = new FdChannel(pair[0], FdChannel.Kind.SOCKET);
    CountDownLatch exited = new CountDownLatch(1);
    AtomicInteger code = new AtomicInteger();
    ChildHandle child = ChildHandle.watch(pid);
    child
        .exit()
        .thenAccept(
            c -> {
              code.set(c);
              exited.countDown();
            });
    FdChannel pidfd = child.pidfd();
    try {
      Scratch s = Scratch.get();
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      ctl.acquire();
      try {
        switch (when) {
          case "closedBeforeReady" -> {}
          case "readyByteUnread" ->
              assertTrue(ctl.await(s, Linux.POLLIN, deadline), "the spare said it is ready");
          case "readyByteRead", "descriptorsButNoTask" -> {
            assertTrue(Frames.readExactly(ctl, s, s.wordAddress, 1, deadline), "ready byte");
            assertEquals(WarmPool.READY, s.word.get(ValueLayout.JAVA_BYTE, 0));
            if (when.equals("descriptorsButNoTask")) {
              int[] pipe = Fds.pipe();
              try {
                FdPassing.send(ctl, (byte) 'J', pipe);
              } finally {
                Fds.closeQuietly(pipe[0]);
                Fds.closeQuietly(pipe[1]);
              }
            }
          }
          default -> throw new IllegalArgumentException(when);
        }
      } finally {
        ctl.release();
      }
      Fds.closeQuietly(ctl);
      assertTrue(exited.await(2, TimeUnit.MINUTES), "the spare exited");
      assertEquals(0, code.get(), "exit code");
      assertEquals("", Files.readString(output), "the spare's output");
    } finally {
      Fds.closeQuietly(ctl);
      if (exited.getCount() > 0 && pidfd.tryAcquire()) {
        try {
          io.jpipe.internal.posix.Libc.pidfdSendSignal(
              Scratch.get().errno, pidfd.fd(), Linux.SIGKILL);
        } finally {
          pidfd.release();
        }
        exited.await(30, TimeUnit.SECONDS);
      }
      Fds.closeQuietly(pidfd);
    }
  }
}
