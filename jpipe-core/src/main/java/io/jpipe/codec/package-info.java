/**
 * How {@code Connection.send} and {@code recv} turn objects into message bytes and back: the {@link
 * io.jpipe.codec.Codec} interface, Java serialization ({@link
 * io.jpipe.codec.JavaSerializationCodec}, the default, with an allow-list form for sockets) and the
 * {@link io.jpipe.codec.DecodeLimits} every decode is held to ({@link
 * io.jpipe.codec.DecodeLimitException} when a message goes over one).
 *
 * <p>The pickle codec, for talking to CPython, is in the {@code jpipe-pickle} artifact (module
 * {@code io.jpipe.pickle}).
 */
package io.jpipe.codec;
