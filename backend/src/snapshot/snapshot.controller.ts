import { Controller, Get, HttpException, HttpStatus, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import {
  CANDLE_INTERVALS,
  CandleIntervalSchema,
  ErrorCode,
  SymbolSchema,
  type Candles,
  type History,
  type InstrumentSpec,
  type Snapshot,
  type Trades,
} from '@tickdeck/protocol';
import { z } from 'zod';
import { HistoryService } from '../history/history.service.js';
import { MarketState } from '../market/market-state.js';
import { apiSchema } from '../ops/openapi.js';

const SymbolListQuery = z
  .string()
  .max(2000)
  .transform((s) => s.split(',').filter((x) => x !== ''))
  .pipe(z.array(SymbolSchema).min(1));
const SecondsQuery = z.coerce.number().int().min(1).max(86_400);
const CANDLE_LIMIT_MAX = 5000;
const CandlesQuery = z.object({
  interval: CandleIntervalSchema.default('1m'),
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(CANDLE_LIMIT_MAX).default(500),
});

const TRADE_LIMIT_MAX = 5000;
const TradesQuery = z.object({
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(TRADE_LIMIT_MAX).default(100),
});

function fail(status: HttpStatus, code: ErrorCode, message: string, symbols?: string[]): never {
  throw new HttpException({ code, message, ...(symbols ? { symbols } : {}) }, status);
}

/**
 * REST snapshots and chart backfill. Thin: the data comes straight from {@link MarketState}, each
 * snapshot with the epoch its seqs count in.
 */
@ApiTags('market')
@Controller('api')
export class SnapshotController {
  constructor(
    private readonly market: MarketState,
    private readonly historyService: HistoryService,
  ) {}

  @Get('symbols')
  @ApiOperation({ summary: 'The instruments this gateway carries' })
  @ApiOkResponse({ schema: { type: 'array', items: apiSchema('Instrument') } })
  symbols(): readonly InstrumentSpec[] {
    return this.market.instruments;
  }

  @Get('snapshot')
  @ApiOperation({ summary: 'Latest state of every symbol, or of the listed ones' })
  @ApiQuery({ name: 'symbols', required: false, description: 'Comma-separated symbols, e.g. AAPL,BTC-USD' })
  @ApiOkResponse({ schema: { type: 'array', items: apiSchema('Snapshot') } })
  snapshots(@Query('symbols') symbols?: string): Snapshot[] {
    if (symbols === undefined) return this.market.symbols.map((_, i) => this.market.snapshot(i));
    const parsed = SymbolListQuery.safeParse(symbols);
    if (!parsed.success)
      fail(HttpStatus.BAD_REQUEST, ErrorCode.BAD_REQUEST, 'symbols: a comma-separated list of symbols');
    return parsed.data.map((s) => this.market.snapshot(this.indexOf(s)));
  }

  @Get('snapshot/:symbol')
  @ApiOperation({ summary: 'Latest state of one symbol' })
  @ApiParam({ name: 'symbol', example: 'AAPL' })
  @ApiOkResponse({ schema: apiSchema('Snapshot') })
  snapshot(@Param('symbol') symbol: string): Snapshot {
    return this.market.snapshot(this.indexOf(symbol));
  }

  @Get('history/:symbol')
  @ApiOperation({ summary: '1-second OHLCV points of the last N seconds, for chart backfill' })
  @ApiParam({ name: 'symbol', example: 'AAPL' })
  @ApiQuery({ name: 'seconds', required: false, description: 'Window in seconds (1..86400), default 300' })
  @ApiOkResponse({ schema: apiSchema('History') })
  history(@Param('symbol') symbol: string, @Query('seconds') seconds?: string): History {
    const i = this.indexOf(symbol);
    const parsed = SecondsQuery.safeParse(seconds ?? 300);
    if (!parsed.success) fail(HttpStatus.BAD_REQUEST, ErrorCode.BAD_REQUEST, 'seconds: a whole number from 1 to 86400');
    const now = Date.now();
    return this.market.historySince(i, now - (now % 1000) - (parsed.data - 1) * 1000);
  }

  @Get('candles/:symbol')
  @ApiOperation({
    summary: 'OHLCV bars of one interval, oldest first, the open bar last (closed: false)',
    description:
      'Bars with from <= start < to, the newest `limit` of them; page back in time by passing the ' +
      'oldest start received as `to`. Intervals without ticks have no bar. From the history store ' +
      'and the bars in memory (see the README: History).',
  })
  @ApiParam({ name: 'symbol', example: 'AAPL' })
  @ApiQuery({
    name: 'interval',
    required: false,
    description: `${Object.keys(CANDLE_INTERVALS).join(', ')}; default 1m`,
  })
  @ApiQuery({ name: 'from', required: false, description: 'Epoch ms, inclusive' })
  @ApiQuery({ name: 'to', required: false, description: 'Epoch ms, exclusive' })
  @ApiQuery({ name: 'limit', required: false, description: `1..${CANDLE_LIMIT_MAX}, default 500` })
  @ApiOkResponse({ schema: apiSchema('Candles') })
  async candles(@Param('symbol') symbol: string, @Query() query: Record<string, unknown>): Promise<Candles> {
    const i = this.indexOf(symbol);
    const parsed = CandlesQuery.safeParse(query);
    if (!parsed.success) {
      fail(
        HttpStatus.BAD_REQUEST,
        ErrorCode.BAD_REQUEST,
        `interval: one of ${Object.keys(CANDLE_INTERVALS).join(', ')}; from, to: epoch ms; limit: 1 to ${CANDLE_LIMIT_MAX}`,
      );
    }
    const { interval, from = -Infinity, to = Infinity, limit } = parsed.data;
    const ring = this.market.candleRing(i, interval);
    const open = ring.openBar();
    const openInRange = open !== null && open.start >= from && open.start < to;
    const candles = await this.historyService.closedBars(i, interval, from, to, openInRange ? limit - 1 : limit);
    if (openInRange) candles.push(open);
    return { symbol: this.market.symbols[i]!, interval, candles };
  }

  @Get('trades/:symbol')
  @ApiOperation({
    summary: 'The tape of one symbol, newest first',
    description:
      'Trades with seq < before, the newest `limit` of them; page back in time by passing `next` ' +
      "(the oldest seq received) as `before`. A symbol's trade seqs continue across restarts. From the " +
      'trades in memory and the history store (see the README: History).',
  })
  @ApiParam({ name: 'symbol', example: 'AAPL' })
  @ApiQuery({ name: 'before', required: false, description: 'Trade seq, exclusive; default: the newest' })
  @ApiQuery({ name: 'limit', required: false, description: `1..${TRADE_LIMIT_MAX}, default 100` })
  @ApiOkResponse({ schema: apiSchema('Trades') })
  async trades(@Param('symbol') symbol: string, @Query() query: Record<string, unknown>): Promise<Trades> {
    const i = this.indexOf(symbol);
    const parsed = TradesQuery.safeParse(query);
    if (!parsed.success) {
      fail(
        HttpStatus.BAD_REQUEST,
        ErrorCode.BAD_REQUEST,
        `before: a trade seq (1 or more); limit: 1 to ${TRADE_LIMIT_MAX}`,
      );
    }
    const { before = Infinity, limit } = parsed.data;
    const trades = await this.historyService.trades(i, before, limit);
    const oldest = trades[trades.length - 1];
    return {
      symbol: this.market.symbols[i]!,
      trades,
      ...(trades.length === limit && oldest && oldest.seq > 1 ? { next: oldest.seq } : {}),
    };
  }

  private indexOf(raw: string): number {
    const parsed = SymbolSchema.safeParse(raw);
    if (!parsed.success) fail(HttpStatus.BAD_REQUEST, ErrorCode.BAD_REQUEST, 'malformed symbol');
    const i = this.market.indexOf(parsed.data);
    if (i < 0) fail(HttpStatus.NOT_FOUND, ErrorCode.UNKNOWN_SYMBOL, `unknown symbol: ${parsed.data}`, [parsed.data]);
    return i;
  }
}
