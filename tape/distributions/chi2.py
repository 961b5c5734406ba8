"""``Chi2``: the chi-squared distribution, a gamma distribution of rate 1/2."""
from __future__ import annotations

from typing import Any, Optional, Union

from .._tensor import Tensor
from . import constraints
from .gamma import Gamma

__all__ = ["Chi2"]


class Chi2(Gamma):
    r"""Creates a Chi-squared distribution parameterized by shape parameter :attr:`df`. This is
    exactly equivalent to ``Gamma(alpha=0.5*df, beta=0.5)``

    Args:
        df (float or Tensor): shape parameter of the distribution
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df: Union[Tensor, float], validate_args: Optional[bool] = None) -> None:
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Chi2:
        return super().expand(batch_shape, self._get_checked_instance(Chi2, _instance))

    @property
    def df(self) -> Tensor:
        return self.concentration * 2
