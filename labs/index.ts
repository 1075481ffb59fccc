// `npm start` and `npx tsx labs [COMMAND]` land here. The menu is the kit's, not yours: it lives in menu/.
import '../menu/index.ts';
