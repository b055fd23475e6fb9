package devstack

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoPID: the container's state names no process (it is not running, or Docker
// runs on another machine).
var ErrNoPID = errors.New("devstack: container has no host pid")

// ContainerID is the Docker id of the container.
func (s *server) ContainerID() string { return s.container.GetContainerID() }

// ContainerPID is the host pid of the container's first process: its
// /proc/<pid>/cgroup names the container's cgroup, for CPU accounting.
func (s *server) ContainerPID(ctx context.Context) (int, error) {
	st, err := s.container.State(ctx)
	if err != nil {
		return 0, fmt.Errorf("devstack: container state: %w", err)
	}
	if st.Pid <= 0 {
		return 0, ErrNoPID
	}
	return st.Pid, nil
}

// PID is the process id of a ticketd run as a process (StartTicketd), 0 for one
// run in this process.
func (t *Ticketd) PID() int {
	if t.cmd == nil || t.cmd.Process == nil {
		return 0
	}
	return t.cmd.Process.Pid
}
