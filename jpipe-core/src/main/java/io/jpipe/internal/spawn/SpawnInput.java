package io.jpipe.internal.spawn;

import io.jpipe.codec.Codec;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;

/**
 * Reads what {@link SpawnOutput} wrote, turning each placeholder back into the live connection end
 * or lock on the descriptor the child inherited.
 */
final class SpawnInput extends ObjectInputStream {
  private final Revival revival;

  SpawnInput(InputStream in, Revival revival) throws IOException {
    super(in);
    this.revival = revival;
    enableResolveObject(true);
  }

  @Override
  protected Object resolveObject(Object obj) throws IOException {
    return switch (obj) {
      case Inherited.Connection c ->
          revival.connection(c.index, c.kind, c.readable, c.writable, (Codec) c.codec);
      case Inherited.ShmConnection c ->
          revival.shmConnection(
              c.index, c.memfdIndex, c.side, c.readable, c.writable, (Codec) c.codec);
      case Inherited.Lock l -> revival.lock(l.index);
      default -> obj;
    };
  }
}
