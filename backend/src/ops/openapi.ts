import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import {
  CandlesSchema,
  TradesSchema,
  ErrorBodySchema,
  HistorySchema,
  InstrumentSpecSchema,
  SnapshotSchema,
} from '@tickdeck/protocol';
import { z } from 'zod';

/** Response bodies, from the protocol's schemas: the API docs cannot drift from the wire types. */
const SCHEMAS = {
  Instrument: InstrumentSpecSchema,
  Snapshot: SnapshotSchema,
  History: HistorySchema,
  Candles: CandlesSchema,
  Trades: TradesSchema,
  Error: z.object({ error: ErrorBodySchema }),
} as const;

export type ApiSchemaName = keyof typeof SCHEMAS;

/** A `$ref` to one of the component schemas, for `@ApiOkResponse({ schema })`. */
export function apiSchema(name: ApiSchemaName): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

/** Serves the OpenAPI document at `/api/docs` (UI) and `/api/docs-json`. */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('tickdeck')
    .setDescription('Snapshots, chart history and health of the tickdeck market-data gateway.')
    .setVersion('0.1.0')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  const schemas = (document.components ??= {}).schemas ?? {};
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    schemas[name] = z.toJSONSchema(schema, { target: 'openapi-3.0' }) as never;
  }
  document.components.schemas = schemas;
  SwaggerModule.setup('api/docs', app, document);
}
