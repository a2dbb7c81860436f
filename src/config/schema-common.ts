/**
 * Field types shared by the config schema's sections.
 *
 * @module
 */
import { z } from 'zod';

export const port = z.number().int().min(0).max(65_535);
export const positiveMs = z.number().int().positive();
export const httpUrl = z.url({ protocol: /^https?$/ });
