/** A user's named module that uses jpipe and its pickle codec. */
module com.example.modapp {
  requires io.jpipe.pickle;
}
