package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// ErrNotRunning is returned by RequestStatus and RequestSync when no daemon
// listens on the state directory's control socket.
var ErrNotRunning = errors.New("the daemon is not running")

// Control commands.
const (
	CmdStatus = "status"
	CmdSync   = "sync"
	CmdFetch  = "fetch"
)

// Request is one line a client sends on the control socket (JSON).
type Request struct {
	Cmd      string   `json:"cmd"`                // CmdStatus or CmdSync
	Accounts []string `json:"accounts,omitempty"` // CmdSync: accounts to sync, none = all; CmdFetch: the one account
	Paths    []string `json:"paths,omitempty"`    // CmdFetch: placeholder files to replace with their messages
	Token    string   `json:"token,omitempty"`    // Windows: the token of control.json
}

// Response is the daemon's answer line (JSON).
type Response struct {
	OK      bool         `json:"ok"`
	Error   string       `json:"error,omitempty"`
	Status  *Status      `json:"status,omitempty"`
	Results []SyncResult `json:"results,omitempty"`
}

// SyncResult is one account's outcome of a sync request.
type SyncResult struct {
	Account string `json:"account"`
	Summary string `json:"summary,omitempty"`
	Error   string `json:"error,omitempty"`
	// Files are the outcomes of a fetch request, one per path.
	Files []FileResult `json:"files,omitempty"`
}

// FileResult is the outcome of fetching one placeholder.
type FileResult struct {
	Path  string `json:"path"`
	Error string `json:"error,omitempty"`
}

// SocketName is the control socket's file name in the state directory
// (Unix; Windows uses a loopback listener described by InfoName).
const SocketName = "control.sock"

// maxRequest bounds a request line.
const maxRequest = 64 << 10

// controlServer serves the control socket.
type controlServer struct {
	d     *Daemon
	l     net.Listener
	token string
	clean func()
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// startControl listens in stateDir. The caller must close the server.
func startControl(d *Daemon, stateDir string) (*controlServer, error) {
	l, token, clean, err := listenControl(stateDir)
	if err != nil {
		return nil, err
	}
	s := &controlServer{d: d, l: l, token: token, clean: clean, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *controlServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *controlServer) serve(c net.Conn) {
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), maxRequest)
	enc := json.NewEncoder(c)
	for sc.Scan() {
		var req Request
		var resp Response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp.Error = "bad request: " + err.Error()
		} else if s.token != "" && req.Token != s.token {
			resp.Error = "bad token"
		} else {
			resp = s.handle(req)
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

func (s *controlServer) handle(req Request) Response {
	switch req.Cmd {
	case CmdStatus:
		return Response{OK: true, Status: s.d.Status()}
	case CmdSync:
		res, err := s.d.Sync(s.d.ctx(), req.Accounts)
		if err != nil {
			return Response{Error: err.Error(), Results: res}
		}
		return Response{OK: true, Results: res}
	case CmdFetch:
		if len(req.Accounts) != 1 || len(req.Paths) == 0 {
			return Response{Error: "fetch: name one account and the files"}
		}
		res, err := s.d.Fetch(s.d.ctx(), req.Accounts[0], req.Paths)
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{OK: true, Results: []SyncResult{res}}
	}
	return Response{Error: fmt.Sprintf("unknown command %q", req.Cmd)}
}

// close stops listening, ends open connections and removes the socket.
func (s *controlServer) close() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.clean != nil {
		s.clean()
	}
}

// request sends one request to the daemon of stateDir and reads its answer.
func request(ctx context.Context, stateDir string, req Request) (*Response, error) {
	c, token, err := dialControl(ctx, stateDir)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req.Token = token
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	var resp Response
	dec := json.NewDecoder(bufio.NewReader(c))
	if err := dec.Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("control socket: the daemon closed the connection")
		}
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &resp, nil
}

// RequestStatus asks the daemon running on stateDir for its status. It
// returns an error wrapping ErrNotRunning when no daemon answers.
func RequestStatus(ctx context.Context, stateDir string) (*Status, error) {
	resp, err := request(ctx, stateDir, Request{Cmd: CmdStatus})
	if err != nil {
		return nil, err
	}
	if !resp.OK || resp.Status == nil {
		return nil, fmt.Errorf("daemon: %s", resp.Error)
	}
	return resp.Status, nil
}

// RequestSync asks the daemon running on stateDir to run a pass of the
// named accounts (all when none) now, and returns once they finished: one
// result per account. It returns an error wrapping ErrNotRunning when no
// daemon answers.
func RequestSync(ctx context.Context, stateDir string, accounts []string) ([]SyncResult, error) {
	resp, err := request(ctx, stateDir, Request{Cmd: CmdSync, Accounts: accounts})
	if err != nil {
		return nil, err
	}
	if !resp.OK {
		return resp.Results, fmt.Errorf("daemon: %s", resp.Error)
	}
	return resp.Results, nil
}

// notRunning wraps a dial error as ErrNotRunning when nothing listens.
// RequestFetch asks the daemon running on stateDir to replace placeholder
// files of an account with their messages (in its next pass, which it
// starts now) and returns once they are done: one FileResult per path. It
// returns an error wrapping ErrNotRunning when no daemon answers.
func RequestFetch(ctx context.Context, stateDir, account string, paths []string) (SyncResult, error) {
	resp, err := request(ctx, stateDir, Request{Cmd: CmdFetch, Accounts: []string{account}, Paths: paths})
	if err != nil {
		return SyncResult{}, err
	}
	if !resp.OK || len(resp.Results) != 1 {
		return SyncResult{}, fmt.Errorf("daemon: %s", resp.Error)
	}
	return resp.Results[0], nil
}

func notRunning(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) || isConnRefused(err) {
		return fmt.Errorf("%w (nothing listens on %s)", ErrNotRunning, path)
	}
	return fmt.Errorf("control socket %s: %w", path, err)
}
