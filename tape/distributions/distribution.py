"""``Distribution``, the base class of ``tape.distributions``: shapes, argument and sample
validation with PyTorch's messages, and the defaults derived from the methods a subclass defines."""
from __future__ import annotations

import warnings
from typing import Any, Optional

from .._grad_mode import no_grad
from .._tensor import Size, Tensor
from . import constraints
from .utils import lazy_property

__all__ = ["Distribution"]


def _size(shape: Any) -> Size:
    return shape if isinstance(shape, Size) else Size(tuple(shape))


class Distribution:
    r"""Distribution is the abstract base class for probability distributions.

    Args:
        batch_shape (tape.Size): The shape over which parameters are batched.
        event_shape (tape.Size): The shape of a single sample (without batching).
        validate_args (bool, optional): Whether to validate arguments. Default: None.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Sets whether validation is enabled or disabled.

        The default behavior mimics Python's ``assert`` statement: validation is on by default, but
        is disabled if Python is run in optimized mode (via ``python -O``). Validation may be
        expensive, so you may want to disable it once a model is working.

        Args:
            value (bool): Whether to enable validation.
        """
        if value not in [True, False]:
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape: Any = Size(), event_shape: Any = Size(),
                 validate_args: Optional[bool] = None) -> None:
        self._batch_shape = _size(batch_shape)
        self._event_shape = _size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
                warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set `arg_constraints = "
                              "{}` or initialize the distribution with `validate_args=False` to turn off validation.",
                              stacklevel=2)
            for param, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if param not in self.__dict__ and isinstance(getattr(type(self), param), lazy_property):
                    continue        # (the other parametrization: checked when given)
                value = getattr(self, param)
                if not bool(constraint.check(value).all()):
                    raise ValueError(f"Expected parameter {param} ({type(value).__name__} of shape "
                                     f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                                     f"{constraint!r}, but found invalid values:\n{value}")
        super().__init__()

    def expand(self, batch_shape: Any, _instance: Any = None) -> Distribution:
        """Returns a new distribution instance (or populates an existing instance provided by a
        derived class) with batch dimensions expanded to `batch_shape`. This method calls
        :class:`~tape.Tensor.expand` on the distribution's parameters. As such, this does not
        allocate new memory for the expanded distribution instance. Additionally, this does not
        repeat any args checking or parameter broadcasting in `__init__.py`, when an instance is
        first created.

        Args:
            batch_shape (tape.Size): the desired expanded size.
            _instance: new instance provided by subclasses that need to override `.expand`.

        Returns:
            New distribution instance with batch dimensions expanded to `batch_size`.
        """
        raise NotImplementedError

    def _expanded(self, cls: type, batch_shape: Any, _instance: Any, params: tuple, tail: Any = None) -> Any:
        """``expand`` for a distribution whose parameters ``params`` (those it holds) all have the
        batch shape followed by ``tail`` (by default the event shape)."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = _size(batch_shape)
        tail = self._event_shape if tail is None else tail
        for name in params:
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(tuple(batch_shape) + tuple(tail)))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def batch_shape(self) -> Size:
        """Returns the shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        """Returns the shape of a single sample (without batching)."""
        return self._event_shape

    @property
    def arg_constraints(self) -> dict:
        """Returns a dictionary from argument names to
        :class:`~tape.distributions.constraints.Constraint` objects that should be satisfied by
        each argument of this distribution. Args that are not tensors need not appear in this
        dict."""
        raise NotImplementedError

    @property
    def support(self) -> Any:
        """Returns a :class:`~tape.distributions.constraints.Constraint` object representing this
        distribution's support."""
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        """Returns the mean of the distribution."""
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        """Returns the mode of the distribution."""
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """Returns the variance of the distribution."""
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        """Returns the standard deviation of the distribution."""
        return self.variance.sqrt()

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        """Generates a sample_shape shaped sample or sample_shape shaped batch of samples if the
        distribution parameters are batched."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        """Generates a sample_shape shaped reparameterized sample or sample_shape shaped batch of
        reparameterized samples if the distribution parameters are batched."""
        raise NotImplementedError

    def sample_n(self, n: int) -> Tensor:
        """Generates n samples or n batches of samples if the distribution parameters are
        batched."""
        warnings.warn("`sample_n(n)` will be deprecated. Use `sample((n,))` instead.", FutureWarning, stacklevel=2)
        return self.sample(Size((n,)))

    def log_prob(self, value: Tensor) -> Tensor:
        """Returns the log of the probability density/mass function evaluated at `value`.

        Args:
            value (Tensor):
        """
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        """Returns the cumulative density/mass function evaluated at `value`.

        Args:
            value (Tensor):
        """
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        """Returns the inverse cumulative density/mass function evaluated at `value`.

        Args:
            value (Tensor):
        """
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Returns tensor containing all values supported by a discrete distribution. The result
        will enumerate over dimension 0, so the shape of the result will be
        `(cardinality,) + batch_shape + event_shape` (where `event_shape = ()` for univariate
        distributions).

        Args:
            expand (bool): whether to expand the support over the batch dims to match the
                distribution's `batch_shape`.

        Returns:
            Tensor iterating over dimension 0.
        """
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """Returns entropy of distribution, batched over batch_shape.

        Returns:
            Tensor of shape batch_shape.
        """
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        """Returns perplexity of distribution, batched over batch_shape.

        Returns:
            Tensor of shape batch_shape.
        """
        return self.entropy().exp()

    def _extended_shape(self, sample_shape: Any = Size()) -> Size:
        """Returns the size of the sample returned by the distribution, given a `sample_shape`.

        Args:
            sample_shape (tape.Size): the size of the sample to be drawn.
        """
        return Size(tuple(_size(sample_shape)) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value: Tensor) -> None:
        """Argument validation for distribution methods such as `log_prob`, `cdf` and `icdf`. The
        rightmost dimensions of a value to be scored via these methods must agree with the
        distribution's batch and event shapes.

        Raises:
            ValueError: when the rightmost dimensions of `value` do not match the distribution's
                batch and event shapes.
        """
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        shape = value.size()
        start = len(shape) - len(self._event_shape)
        if tuple(shape[start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: {shape} vs "
                             f"{self._event_shape}.")
        expected = self._extended_shape()
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {shape} vs {expected}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample validation. Please "
                          "initialize the distribution with `validate_args=False` to turn off validation.",
                          stacklevel=2)
            return
        if not bool(support.check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) to be "
                             f"within the support ({support!r}) of the distribution {self!r}, but found invalid "
                             f"values:\n{value}")

    def _get_checked_instance(self, cls: type, _instance: Any = None) -> Any:
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                                      "__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{p}: {self.__dict__[p] if self.__dict__[p].numel() == 1 else self.__dict__[p].size()}"
                         for p in names)
        return type(self).__name__ + "(" + args + ")"
