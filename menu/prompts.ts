/** The real prompts: @inquirer/prompts behind the small Prompts interface the menu is written against. */
import { confirm, Separator, select } from '@inquirer/prompts';
import type { Prompts } from './menu.ts';

export const inquirerPrompts: Prompts = {
  select(question) {
    const choices = question.choices.map((c) => ('separator' in c ? new Separator(c.separator) : c));
    return select({
      message: question.message,
      choices,
      ...(question.default !== undefined ? { default: question.default } : {}),
      // The whole menu on one screen when it fits: scrolling menus hide entries.
      pageSize: Math.max(7, Math.min(choices.length, (process.stdout.rows || 24) - 4)),
      loop: false,
    });
  },
  confirm(question) {
    return confirm(question);
  },
};
