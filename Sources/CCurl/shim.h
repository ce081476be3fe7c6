#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H

#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/// `curl_easy_setopt` and `curl_multi_setopt` are variadic; Swift cannot call them.
/// These typed wrappers are the only way the Swift code sets options.
static inline CURLcode ccurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ccurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ccurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ccurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ccurl_easy_setopt_write_callback(CURL *handle, CURLoption option,
                                                        size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(handle, option, callback);
}
static inline CURLcode ccurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode ccurl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLMcode ccurl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

static inline CURLMcode ccurl_multi_setopt_pointer(CURLM *handle, CURLMoption option, void *value) {
    return curl_multi_setopt(handle, option, value);
}
static inline CURLMcode ccurl_multi_setopt_socket_callback(CURLM *handle, curl_socket_callback callback) {
    return curl_multi_setopt(handle, CURLMOPT_SOCKETFUNCTION, callback);
}
static inline CURLMcode ccurl_multi_setopt_timer_callback(CURLM *handle, curl_multi_timer_callback callback) {
    return curl_multi_setopt(handle, CURLMOPT_TIMERFUNCTION, callback);
}

/// The socket `curl_multi_socket_action` takes when libcurl's timer fired (a macro Swift does not import).
static inline curl_socket_t ccurl_socket_timeout(void) {
    return CURL_SOCKET_TIMEOUT;
}

/// epoll, which Glibc's Swift module does not export, for `curl_multi_socket_action`: the cost of an event
/// does not grow with the number of transfers, as `curl_multi_perform` and `curl_multi_poll` do.
static inline int ccurl_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

/// Watches `fd` for what a socket callback asked (CURL_POLL_IN, _OUT or _INOUT), or stops watching it
/// (CURL_POLL_REMOVE; libcurl may have closed it already, which removed it). Returns 0, or -1 with errno.
static inline int ccurl_epoll_watch(int epoll, int fd, int what) {
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event event = {0};
    if (what & CURL_POLL_IN) event.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) event.events |= EPOLLOUT;
    event.data.fd = fd;
    if (epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event) == 0) return 0;
    if (errno != ENOENT) return -1;
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

/// Waits at most `timeout` ms (-1: no limit) for up to 64 ready descriptors; stores each one and its
/// CURL_CSELECT_* bits. Returns how many, 0 at the timeout, or -1 with errno (EINTR included).
static inline int ccurl_epoll_wait(int epoll, int *fds, int *events, int timeout) {
    struct epoll_event ready[64];
    int count = epoll_wait(epoll, ready, 64, timeout);
    for (int i = 0; i < count; i++) {
        fds[i] = ready[i].data.fd;
        events[i] = ((ready[i].events & (EPOLLIN | EPOLLHUP)) ? CURL_CSELECT_IN : 0)
            | ((ready[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0)
            | ((ready[i].events & EPOLLERR) ? CURL_CSELECT_ERR : 0);
    }
    return count;
}

/// An eventfd in an epoll set wakes its waiting thread from any other thread.
static inline int ccurl_wakeup_create(int epoll) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return -1;
    struct epoll_event event = {0};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}
static inline void ccurl_wakeup_signal(int fd) {
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof one);
}
static inline void ccurl_wakeup_clear(int fd) {
    uint64_t count;
    (void)!read(fd, &count, sizeof count);
}

/// Resumes a transfer that a write callback paused with CURL_WRITEFUNC_PAUSE (CURLPAUSE_CONT is a macro
/// expression Swift does not import).
static inline CURLcode ccurl_easy_unpause(CURL *handle) {
    return curl_easy_pause(handle, CURLPAUSE_CONT);
}

/// What a write callback returns to pause its transfer.
static inline size_t ccurl_writefunc_pause(void) {
    return CURL_WRITEFUNC_PAUSE;
}

#endif
