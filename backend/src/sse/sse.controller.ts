import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../security/rest-auth.guard.js';
import { SseService } from './sse.service.js';

/** `GET /api/stream`: thin; the stream is {@link SseService}'s. */
@ApiTags('market')
@Controller('api')
export class SseController {
  constructor(private readonly streams: SseService) {}

  @Get('stream')
  // Not open: the stream checks `Authorization: Bearer` itself, after the Origin as the socket
  // does, and keeps the JWT's expiry to end the stream with TOKEN_EXPIRED.
  @Public()
  @ApiOperation({
    summary: 'Server-Sent Events: snapshot, then one `frame` event per flush (quotes, trades, candles)',
    description:
      'The frames a /market socket gets, as text/event-stream. Events: `snapshot` (the subscribe ack), `frame`, ' +
      '`status`, `epoch`, `error`; each `snapshot` and `frame` has an `id` `<epoch>:<SYMBOL>=<tradeSeq>,...` that ' +
      '`Last-Event-ID` resumes from. Heartbeat `: ping` every SSE_HEARTBEAT_MS.',
  })
  @ApiQuery({ name: 'symbols', required: true, description: 'Comma-separated symbols, e.g. AAPL,BTC-USD' })
  @ApiQuery({
    name: 'throttleMs',
    required: false,
    description: 'One of the throttle tiers (default DEFAULT_THROTTLE_MS)',
  })
  @ApiQuery({ name: 'candles', required: false, description: 'Live candle intervals, e.g. 1m,5s' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'The id of the last event received: resume' })
  @ApiProduces('text/event-stream')
  @ApiResponse({ status: 200, description: 'The stream' })
  @ApiResponse({ status: 400, description: 'BAD_REQUEST, BAD_THROTTLE, TOO_MANY_SYMBOLS' })
  @ApiResponse({ status: 401, description: 'UNAUTHORIZED (viewer auth on)' })
  @ApiResponse({ status: 403, description: 'FORBIDDEN_ORIGIN' })
  @ApiResponse({ status: 404, description: 'UNKNOWN_SYMBOL' })
  @ApiResponse({ status: 429, description: 'RATE_LIMITED, TOO_MANY_CONNECTIONS' })
  open(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.streams.open(req, res, req.originalUrl);
  }
}
