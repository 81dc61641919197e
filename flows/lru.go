package flows

// lru is an intrusive doubly linked list of connections, most recently
// active first. Intrusive links make move-to-front and removal O(1) with no
// allocation, which matters because every packet moves its connection.
//
// The tracker keeps two of them, one per timeout (open: IdleTimeout,
// closed: Linger); within a list every entry has the same timeout, so the
// tail is always the first to expire and checking it at each packet is
// enough.
type lru struct {
	head, tail *conn
	n          int
}

func (l *lru) pushFront(c *conn) {
	c.prev, c.next = nil, l.head
	if l.head != nil {
		l.head.prev = c
	} else {
		l.tail = c
	}
	l.head = c
	l.n++
}

func (l *lru) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.n--
}

func (l *lru) moveToFront(c *conn) {
	if l.head == c {
		return
	}
	l.remove(c)
	l.pushFront(c)
}

// fifo is an intrusive list of connections in order of start, oldest
// first, for eviction under Options.StartOrder.
type fifo struct {
	head, tail *conn
}

func (l *fifo) pushBack(c *conn) {
	c.older, c.newer = l.tail, nil
	if l.tail != nil {
		l.tail.newer = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *fifo) remove(c *conn) {
	if c.older != nil {
		c.older.newer = c.newer
	} else {
		l.head = c.newer
	}
	if c.newer != nil {
		c.newer.older = c.older
	} else {
		l.tail = c.older
	}
	c.older, c.newer = nil, nil
}
