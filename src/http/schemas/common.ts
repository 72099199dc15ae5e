import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * OpenAPI 3.0 spells "may be null" as `nullable: true`; Ajv and fast-json-stringify read the same keyword,
 * so one schema serves validation, serialisation and the served document.
 */
export const Nullable = <T extends TSchema>(schema: T) => Type.Unsafe<Static<T> | null>({ ...schema, nullable: true });

export const ErrorsSchema = Type.Object(
  { errors: Type.Array(Type.String(), { description: 'Human-readable messages, each naming the field at fault.' }) },
  { $id: 'Errors', description: 'Errors model' },
);

export const LinksSchema = Type.Object(
  {
    self: Nullable(Type.String({ description: 'The URL of the current page of results.' })),
    first: Nullable(Type.String({ description: 'The URL of the first page of results.' })),
    next: Nullable(Type.String({ description: 'The URL of the next page of results, if one exists.' })),
    last: Nullable(Type.String({ description: 'The URL of the last page of results, if one exists.' })),
    prev: Nullable(Type.String({ description: 'The URL of the previous page of results, if one exists.' })),
  },
  { $id: 'Links' },
);

/** M8: page ≥ 1, limit ≥ 1; a limit above the maximum is clamped, not refused. */
export const PaginationQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'The page of results to return (1-based).' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, description: 'The amount of results to return. The maximum is 1000.' })),
});
export type PaginationQuery = Static<typeof PaginationQuery>;

export const errorResponses = {
  400: Type.Ref(ErrorsSchema),
  401: Type.Ref(ErrorsSchema),
  403: Type.Ref(ErrorsSchema),
  404: Type.Ref(ErrorsSchema),
} as const;
