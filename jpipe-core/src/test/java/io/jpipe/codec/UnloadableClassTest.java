package io.jpipe.codec;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.InvalidClassException;
import java.io.ObjectStreamConstants;
import org.junit.jupiter.api.Test;

/**
 * A message naming a class that cannot be loaded ({@code module-info}: found on the class path, but
 * not a class) is refused as an {@link InvalidClassException}, never a {@code LinkageError}.
 */
class UnloadableClassTest {
  private static byte[] streamNaming(String className) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeShort(ObjectStreamConstants.STREAM_MAGIC);
    out.writeShort(ObjectStreamConstants.STREAM_VERSION);
    out.writeByte(ObjectStreamConstants.TC_OBJECT);
    out.writeByte(ObjectStreamConstants.TC_CLASSDESC);
    out.writeUTF(className);
    out.writeLong(1L); // serialVersionUID
    out.writeByte(ObjectStreamConstants.SC_SERIALIZABLE);
    out.writeShort(0); // no fields
    out.writeByte(ObjectStreamConstants.TC_ENDBLOCKDATA);
    out.writeByte(ObjectStreamConstants.TC_NULL); // no superclass
    out.flush();
    return bytes.toByteArray();
  }

  @Test
  void aClassThatCannotBeLoadedIsAnInvalidClassException() throws Exception {
    byte[] message = streamNaming("module-info");
    for (Codec codec : new Codec[] {Codec.javaSerialization(), JavaSerializationCodec.allowing()}) {
      assertThrows(InvalidClassException.class, () -> codec.decode(message, 0, message.length));
    }
  }
}
