/* A cheap first look at captured bytes: does this start like an HTTP/1.x request? */
#ifndef HTTPTRACE_HTTP_H
#define HTTPTRACE_HTTP_H

/* Four bytes as one little-endian word, for comparing method prefixes. */
#define HTTPTRACE_WORD(a, b, c, d) \
	((__u32)(a) | ((__u32)(b) << 8) | ((__u32)(c) << 16) | ((__u32)(d) << 24))

/*
 * True when the data starts with a request method. User space parses the
 * request in full; this only keeps other traffic off the perf buffer.
 */
static __always_inline bool is_http_request(const __u8 *data, __u32 len)
{
	__u32 w;

	if (len < 4)
		return false;
	w = HTTPTRACE_WORD(data[0], data[1], data[2], data[3]);
	switch (w) {
	case HTTPTRACE_WORD('G', 'E', 'T', ' '):
	case HTTPTRACE_WORD('P', 'O', 'S', 'T'):
	case HTTPTRACE_WORD('P', 'U', 'T', ' '):
	case HTTPTRACE_WORD('H', 'E', 'A', 'D'):
	case HTTPTRACE_WORD('D', 'E', 'L', 'E'):
	case HTTPTRACE_WORD('P', 'A', 'T', 'C'):
	case HTTPTRACE_WORD('O', 'P', 'T', 'I'):
	case HTTPTRACE_WORD('C', 'O', 'N', 'N'):
	case HTTPTRACE_WORD('T', 'R', 'A', 'C'):
		return true;
	}
	return false;
}

#endif /* HTTPTRACE_HTTP_H */
