package io.jpipe.internal.spawn;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The AOT cache directory must be private: children boot from whatever cache they find there. */
class AotCacheTest {
  @TempDir Path dir;

  @Test
  void aPrivateDirectoryIsUsed() throws IOException {
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    assertDoesNotThrow(() -> AotCache.checkPrivate(dir));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    assertDoesNotThrow(() -> AotCache.checkPrivate(dir), "readable by others is fine");
  }

  @Test
  void aDirectoryOthersCanWriteToIsRefused() throws IOException {
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertThrows(IOException.class, () -> AotCache.checkPrivate(dir));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx---"));
    assertThrows(IOException.class, () -> AotCache.checkPrivate(dir));
  }

  @Test
  void aDirectoryOfAnotherUserIsRefused() throws IOException {
    // as a user, /proc/1 is root's; as root, a directory is handed to nobody (65534)
    Path foreign = Path.of("/proc/1");
    Object owner = Files.getAttribute(foreign, "unix:uid");
    Object self = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    if (!owner.equals(self)) {
      assertThrows(IOException.class, () -> AotCache.checkPrivate(foreign));
    } else {
      // running as root: make a directory owned by another uid
      Path other = Files.createDirectory(dir.resolve("other"));
      Files.setAttribute(other, "unix:uid", 65534);
      assertThrows(IOException.class, () -> AotCache.checkPrivate(other));
    }
  }
}
