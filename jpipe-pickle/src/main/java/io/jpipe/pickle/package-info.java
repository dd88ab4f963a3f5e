/**
 * {@link io.jpipe.pickle.PickleCodec}: Python's pickle as a jpipe {@link io.jpipe.codec.Codec}, so
 * a Java process and a CPython process exchange {@code None}, booleans, numbers, strings, bytes,
 * lists, tuples, dicts and sets over a pipe, a {@link io.jpipe.net.Listener} or a {@link
 * io.jpipe.net.Client}: {@code conn.setCodec(PickleCodec.create())}.
 */
package io.jpipe.pickle;
