package io.jpipe.internal.net;

import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.ValueLayout;

/**
 * A descriptor that is readable exactly while a flag is raised (an eventfd): it lets {@code poll}
 * and {@code Connections.waitAny} wait for something that is not a descriptor, such as a listener's
 * queue of authenticated connections. The owner raises and lowers it under its own lock, so raises
 * and lowers alternate.
 */
public final class ReadyFlag implements AutoCloseable {
  private final FdChannel channel;

  private ReadyFlag(FdChannel channel) {
    this.channel = channel;
  }

  /**
   * Creates a lowered flag.
   *
   * @return the flag
   * @throws IOException if no eventfd can be had
   */
  public static ReadyFlag create() throws IOException {
    Scratch s = Scratch.get();
    int fd = Libc.eventfd(s.errno, 0, Linux.EFD_CLOEXEC | Linux.EFD_NONBLOCK);
    if (fd < 0) {
      throw Errno.exception("eventfd", Native.errno(s.errno));
    }
    return new ReadyFlag(new FdChannel(fd, FdChannel.Kind.OTHER));
  }

  /**
   * The channel to poll: readable while the flag is raised, "closed" once the flag is.
   *
   * @return the channel
   */
  public FdChannel channel() {
    return channel;
  }

  /** Raises a lowered flag (adds 1 to the counter; cannot block). Ignored once closed. */
  public void raise() {
    io(true);
  }

  /** Lowers a raised flag (reads the counter back to 0). Ignored once closed. */
  public void lower() {
    io(false);
  }

  private void io(boolean raise) {
    if (!channel.tryAcquire()) {
      return;
    }
    try {
      Scratch s = Scratch.get();
      s.word.set(ValueLayout.JAVA_LONG, 0, 1L);
      long r;
      do {
        r =
            raise
                ? Libc.write(s.errno, channel.fd(), s.word, 8)
                : Libc.read(s.errno, channel.fd(), s.word, 8);
      } while (r < 0 && Native.errno(s.errno) == Linux.EINTR);
      // Any other failure is EAGAIN: lowering a flag that is already down, which changes nothing.
    } finally {
      channel.release();
    }
  }

  /** Closes the descriptor (idempotent); a poller sees the channel closed. */
  @Override
  public void close() {
    Fds.closeQuietly(channel);
  }
}
