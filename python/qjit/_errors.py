"""qjit's exceptions: one class per qjit_status code, all under QjitError, each carrying the code and the message.

Errors the library reports are raised with its message verbatim (qjit_last_error_copy, read right after the failing
call on the same thread: the message is per thread). Errors this package finds itself before calling the library
(a host tensor, a wrong dtype, a missing output buffer) use the same classes, with messages that name the Python
argument (`x`, `w_q`, ...) the way the library names its fields.
"""

from . import _capi


class QjitError(Exception):
    """A failed qjit call: `code` (a qjit.Status) and `message` (the library's text). str(e) is the message."""

    code = None

    def __init__(self, code, message):
        super().__init__(message)
        self.code = _capi.Status(code) if code in _capi.Status._value2member_map_ else code
        self.message = message

    def __str__(self):
        return self.message

    def __repr__(self):
        name = self.code.name if isinstance(self.code, _capi.Status) else self.code
        return f"{type(self).__name__}({name}, {self.message!r})"


class InvalidArgumentError(QjitError):
    """A caller-supplied value is wrong (shape, pointer, alignment, dtype, NaN)."""


class UnsupportedError(QjitError):
    """A valid request this build or device cannot serve."""


class CompileFailedError(QjitError):
    """NVRTC rejected the rendered source; the message carries the log."""


class DriverError(QjitError):
    """A CUDA driver call failed; the message names the call and the CUresult."""


class DriverUnavailableError(QjitError):
    """libcuda could not be loaded or has no usable device."""


class CompilerUnavailableError(QjitError):
    """libnvrtc could not be loaded (a warm cache still works without it)."""


class CacheIoError(QjitError):
    """The kernel cache could not be read or written."""


class OutOfResourcesError(QjitError):
    """The kernel needs more registers or shared memory than the device has."""


class NotFoundError(QjitError):
    """A looked-up entry does not exist."""


class InternalError(QjitError):
    """A bug in qjit; the message says where."""


_CLASSES = {
    _capi.Status.INVALID_ARGUMENT: InvalidArgumentError,
    _capi.Status.UNSUPPORTED: UnsupportedError,
    _capi.Status.COMPILE_FAILED: CompileFailedError,
    _capi.Status.DRIVER_ERROR: DriverError,
    _capi.Status.DRIVER_UNAVAILABLE: DriverUnavailableError,
    _capi.Status.COMPILER_UNAVAILABLE: CompilerUnavailableError,
    _capi.Status.CACHE_IO: CacheIoError,
    _capi.Status.OUT_OF_RESOURCES: OutOfResourcesError,
    _capi.Status.NOT_FOUND: NotFoundError,
    _capi.Status.INTERNAL: InternalError,
}


def error_class(code):
    """The QjitError subclass for a status code (QjitError itself for a code this package does not know)."""
    return _CLASSES.get(code, QjitError)


def last_error_message():
    return _capi.read_string(_capi.lib.qjit_last_error_copy, capacity=1024)


def check(code):
    """Raises the matching QjitError subclass, with the library's message, when `code` is not QJIT_OK."""
    if code != _capi.Status.OK:
        raise error_class(code)(code, last_error_message())


def invalid(message):
    return InvalidArgumentError(_capi.Status.INVALID_ARGUMENT, message)
