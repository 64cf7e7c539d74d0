//! Fixed-capacity ring buffer of the last `n` inputs.

/// The last `capacity` values pushed, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    buf: Box<[f64]>,
    /// Index of the oldest value once full; the next write position.
    head: usize,
    len: usize,
}

impl Window {
    /// A window for `capacity >= 1` values.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// Append `x`, overwriting the oldest value when full.
    #[inline]
    pub(crate) fn push(&mut self, x: f64) {
        self.buf[self.head] = x;
        self.head += 1;
        if self.head == self.buf.len() {
            self.head = 0;
        }
        if self.len < self.buf.len() {
            self.len += 1;
        }
    }

    /// `true` once `capacity` values have been pushed.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Oldest value held (only meaningful when full).
    #[inline]
    pub(crate) fn oldest(&self) -> f64 {
        self.buf[self.head]
    }

    /// `true` before the first push.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Values held, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let start = if self.is_full() { self.head } else { 0 };
        (0..self.len).map(move |i| self.buf[(start + i) % self.buf.len()])
    }

    /// Forget everything.
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_values() {
        let mut w = Window::new(3);
        w.push(1.0);
        w.push(2.0);
        assert!(!w.is_full());
        w.push(3.0);
        assert!(w.is_full());
        assert_eq!(w.oldest(), 1.0);
        w.push(4.0);
        assert_eq!(w.oldest(), 2.0);
        assert_eq!(w.iter().collect::<Vec<_>>(), vec![2.0, 3.0, 4.0]);
        w.clear();
        assert!(!w.is_full());
    }
}
