//! Non-owning views of device memory: a device pointer, a shape and strides in elements, the innermost stride 1.
//! qjit never allocates or frees caller memory. Building a view from a raw device pointer is the `unsafe` step (as
//! with `slice::from_raw_parts`): the caller promises the memory is valid for the view's extent and lifetime, so
//! running a plan over views is safe.
use crate::element::Element;
use crate::sys;
use std::marker::PhantomData;

/// A device address (`CUdeviceptr`), as qjit receives it.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevicePtr(pub u64);

impl DevicePtr {
    pub const NULL: DevicePtr = DevicePtr(0);
    pub fn from_ptr<T>(p: *const T) -> DevicePtr {
        DevicePtr(p as usize as u64)
    }
    pub fn as_ptr<T>(self) -> *const T {
        self.0 as usize as *const T
    }
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
    /// The address `elements` elements of `T` further on.
    pub fn add<T>(self, elements: usize) -> DevicePtr {
        DevicePtr(self.0 + (elements * std::mem::size_of::<T>()) as u64)
    }
}

fn packed_strides<const RANK: usize>(shape: [i64; RANK]) -> [i64; RANK] {
    let mut stride = [0i64; RANK];
    let mut s = 1i64;
    for i in (0..RANK).rev() {
        stride[i] = s;
        s = s.saturating_mul(shape[i]);
    }
    stride
}

fn raw<const RANK: usize>(data: DevicePtr, kind: i32, shape: &[i64; RANK], stride: &[i64; RANK]) -> sys::qjit_tensor {
    const { assert!(RANK >= 1 && RANK <= 4, "qjit tensors have rank 1 to 4") };
    let mut t = sys::qjit_tensor { data: data.as_ptr(), element: kind, rank: RANK as i32, shape: [0; 4], stride: [0; 4] };
    t.shape[..RANK].copy_from_slice(shape);
    t.stride[..RANK].copy_from_slice(stride);
    t
}

/// A read-only view of device memory holding `T`s.
#[derive(Debug)]
pub struct TensorRef<'a, T: Element, const RANK: usize> {
    pub data: DevicePtr,
    pub shape: [i64; RANK],
    /// In elements; `stride[RANK - 1]` must be 1.
    pub stride: [i64; RANK],
    _borrow: PhantomData<&'a [T]>,
}

impl<T: Element, const RANK: usize> Clone for TensorRef<'_, T, RANK> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Element, const RANK: usize> Copy for TensorRef<'_, T, RANK> {}

impl<'a, T: Element, const RANK: usize> TensorRef<'a, T, RANK> {
    /// A packed row-major view.
    ///
    /// # Safety
    /// `data` must be device memory (or NULL, which the plans reject) readable for `shape`'s elements of `T` for as
    /// long as `'a` and any plan run over the view still executes on the device.
    pub unsafe fn contiguous(data: DevicePtr, shape: [i64; RANK]) -> Self {
        TensorRef { data, shape, stride: packed_strides(shape), _borrow: PhantomData }
    }
    /// A view with explicit strides in elements.
    ///
    /// # Safety
    /// As for [`TensorRef::contiguous`], over the extent the strides reach.
    pub unsafe fn with_strides(data: DevicePtr, shape: [i64; RANK], stride: [i64; RANK]) -> Self {
        TensorRef { data, shape, stride, _borrow: PhantomData }
    }
    pub fn numel(&self) -> i64 {
        self.shape.iter().product()
    }
    pub(crate) fn to_sys(self) -> sys::qjit_tensor {
        raw(self.data, T::KIND.to_raw(), &self.shape, &self.stride)
    }
}

impl<'a, T: Element> TensorRef<'a, T, 2> {
    /// A `[rows, cols]` view whose rows start `row_stride` elements apart.
    ///
    /// # Safety
    /// As for [`TensorRef::contiguous`], over `rows` rows of `row_stride` elements.
    pub unsafe fn strided(data: DevicePtr, rows: i64, cols: i64, row_stride: i64) -> Self {
        TensorRef { data, shape: [rows, cols], stride: [row_stride, 1], _borrow: PhantomData }
    }
}

/// A writable view of device memory holding `T`s. Not `Copy`: like `&mut`, one writer at a time; `reborrow` lends
/// it for a shorter while.
#[derive(Debug)]
pub struct TensorMut<'a, T: Element, const RANK: usize> {
    pub data: DevicePtr,
    pub shape: [i64; RANK],
    pub stride: [i64; RANK],
    _borrow: PhantomData<&'a mut [T]>,
}

impl<'a, T: Element, const RANK: usize> TensorMut<'a, T, RANK> {
    /// A packed row-major view.
    ///
    /// # Safety
    /// `data` must be device memory writable for `shape`'s elements of `T`, not written through another view while
    /// a plan runs over this one, for as long as `'a` and the plan's kernels still execute.
    pub unsafe fn contiguous(data: DevicePtr, shape: [i64; RANK]) -> Self {
        TensorMut { data, shape, stride: packed_strides(shape), _borrow: PhantomData }
    }
    /// # Safety
    /// As for [`TensorMut::contiguous`], over the extent the strides reach.
    pub unsafe fn with_strides(data: DevicePtr, shape: [i64; RANK], stride: [i64; RANK]) -> Self {
        TensorMut { data, shape, stride, _borrow: PhantomData }
    }
    pub fn numel(&self) -> i64 {
        self.shape.iter().product()
    }
    /// The same memory, lent for a shorter lifetime.
    pub fn reborrow(&mut self) -> TensorMut<'_, T, RANK> {
        TensorMut { data: self.data, shape: self.shape, stride: self.stride, _borrow: PhantomData }
    }
    /// A read-only view of the same memory.
    pub fn as_ref(&self) -> TensorRef<'_, T, RANK> {
        TensorRef { data: self.data, shape: self.shape, stride: self.stride, _borrow: PhantomData }
    }
    pub(crate) fn to_sys(&self) -> sys::qjit_tensor {
        raw(self.data, T::KIND.to_raw(), &self.shape, &self.stride)
    }
}

impl<'a, T: Element> TensorMut<'a, T, 2> {
    /// # Safety
    /// As for [`TensorMut::contiguous`], over `rows` rows of `row_stride` elements.
    pub unsafe fn strided(data: DevicePtr, rows: i64, cols: i64, row_stride: i64) -> Self {
        TensorMut { data, shape: [rows, cols], stride: [row_stride, 1], _borrow: PhantomData }
    }
}

impl<'a, T: Element, const RANK: usize> From<TensorMut<'a, T, RANK>> for TensorRef<'a, T, RANK> {
    fn from(t: TensorMut<'a, T, RANK>) -> Self {
        TensorRef { data: t.data, shape: t.shape, stride: t.stride, _borrow: PhantomData }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::Bf16;

    #[test]
    fn views_fill_the_c_tensor() {
        let t = unsafe { TensorRef::<Bf16, 2>::contiguous(DevicePtr(0x1000), [16, 520]) };
        let s = t.to_sys();
        assert_eq!((s.rank, s.element), (2, sys::QJIT_BF16));
        assert_eq!(s.shape, [16, 520, 0, 0]);
        assert_eq!(s.stride, [520, 1, 0, 0]);
        assert_eq!(s.data as usize, 0x1000);
        let m = unsafe { TensorMut::<f32, 2>::strided(DevicePtr(0x2000), 3, 4, 8) };
        assert_eq!(m.to_sys().stride, [8, 1, 0, 0]);
        let v = unsafe { TensorMut::<f32, 1>::contiguous(DevicePtr(0x3000), [7]) };
        assert_eq!((v.to_sys().rank, v.to_sys().stride[0]), (1, 1));
        assert_eq!(DevicePtr(0x10).add::<f32>(4), DevicePtr(0x20));
    }
}
