"""The machinery behind ``tape.library`` (PyTorch's ``torch._library``): schemas, the operator registry
and its dispatch, ``custom_op``'s ``CustomOpDef``, and the autograd kernel ``register_autograd`` installs."""
