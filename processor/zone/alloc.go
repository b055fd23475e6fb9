package zone

// ring is a FIFO queue on a power-of-two circular buffer. It grows as needed; its
// length is bounded by whoever pushes (every ring here has a named bound).
type ring[T any] struct {
	buf  []T
	head int
	n    int
}

func (r *ring[T]) len() int { return r.n }

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

func (r *ring[T]) front() *T { return &r.buf[r.head] }

func (r *ring[T]) at(i int) *T { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *ring[T]) pop() {
	var zero T
	r.buf[r.head] = zero
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
}

func (r *ring[T]) grow() {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 16
	}
	buf := make([]T, size)
	for i := 0; i < r.n; i++ {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}

// filter keeps, in order, the elements for which keep is true.
func (r *ring[T]) filter(keep func(*T) bool) {
	w := 0
	for i := 0; i < r.n; i++ {
		if v := r.at(i); keep(v) {
			*r.at(w) = *v
			w++
		}
	}
	var zero T
	for i := w; i < r.n; i++ {
		*r.at(i) = zero
	}
	r.n = w
}

// slabChunk is how many values a slab or arena allocates at once.
const slabChunk = 512

// slab hands out pointers to values allocated in chunks and takes them back for
// reuse, so a steady state of holds and keys allocates nothing. A value put back is
// zeroed; references to it elsewhere must check its seq.
type slab[T any] struct {
	chunk []T
	free  []*T
}

func (s *slab[T]) get() *T {
	if n := len(s.free); n > 0 {
		p := s.free[n-1]
		s.free = s.free[:n-1]
		return p
	}
	if len(s.chunk) == 0 {
		s.chunk = make([]T, slabChunk)
	}
	p := &s.chunk[0]
	s.chunk = s.chunk[1:]
	return p
}

func (s *slab[T]) put(p *T) {
	var zero T
	*p = zero
	s.free = append(s.free, p)
}

// arena hands out pointers for outcome payloads in chunks and never reuses them: the
// caller may keep outcomes as long as it likes, and a chunk is freed by the GC once
// no outcome points into it.
type arena[T any] struct{ chunk []T }

func (a *arena[T]) new(v T) *T {
	if len(a.chunk) == 0 {
		a.chunk = make([]T, slabChunk)
	}
	p := &a.chunk[0]
	*p = v
	a.chunk = a.chunk[1:]
	return p
}
