/**
 * A pickle codec for jpipe connections, so Java and CPython processes exchange Python objects: see
 * {@link io.jpipe.pickle.PickleCodec}.
 */
@SuppressWarnings("requires-automatic") // Razorvine pickle 1.5 has no module descriptor
module io.jpipe.pickle {
  requires transitive io.jpipe; // PickleCodec is an io.jpipe.codec.Codec
  requires pickle; // net.razorvine:pickle, an automatic module named after its jar
  requires java.sql; // pickle's Pickler uses java.sql.Date and Time; an automatic module cannot say

  // so

  exports io.jpipe.pickle;
}
